"""The built-in sparse anthropometric model: geometry, modes, identifiability, caching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sk3dface import load_model, make_default_model
from sk3dface.models._default_model import _MIDLINE, _PAIRS
from sk3dface.models.io._common import _check_face

REAL_3DDFA = Path(__file__).resolve().parents[2] / "shared" / "models" / "3ddfa_bfm"

MIRROR = np.arange(68)
for _right, _left in _PAIRS:
    MIRROR[_right], MIRROR[_left] = _left, _right


@pytest.fixture(scope="module")
def model():
    return make_default_model()


def _distance(points, i, j):
    return float(np.linalg.norm(points[i] - points[j]))


def test_sizes_units_and_names(model):
    assert (model.n_vertices, model.n_alpha, model.n_beta) == (68, 16, 15)
    assert model.units == "mm" and model.triangles is None and model.texture_mean is None
    np.testing.assert_array_equal(model.landmark_indices, np.arange(68))
    names = model.identity_names + model.expression_names
    assert len(set(names)) == 31
    assert "face_width" in model.identity_names and "AU26_jaw_drop" in model.expression_names
    assert "AU12_lip_corner_puller" in model.expression_names


def test_cached_deterministic_and_independent_copies(model):
    other = make_default_model()
    assert other is not model
    assert other.mean is model.mean  # one cached build, shared read-only arrays
    other.name = "changed"
    assert make_default_model().name != "changed"
    assert not model.identity_basis.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        model.mean[0, 0] = 1.0
    assert load_model("default").identity_names == model.identity_names


def test_mean_is_a_symmetric_centred_face(model):
    lm = model.landmarks()
    np.testing.assert_allclose(lm.mean(0), 0.0, atol=1e-9)
    np.testing.assert_allclose(lm[MIRROR] * [-1, 1, 1], lm, atol=1e-9)
    np.testing.assert_allclose(lm[list(_MIDLINE), 0], 0.0, atol=1e-9)
    _check_face(model, "default")  # right eye at smaller x, eyes above chin, nose in front
    # jaw runs from the subject's right ear (x < 0) to the left ear, chin lowest
    assert lm[0, 0] < 0 < lm[16, 0] and np.argmin(lm[:17, 1]) == 8
    assert np.argmax(lm[:, 2]) == 30  # the nose tip is the most forward point


def test_mean_matches_the_anthropometric_anchors(model):
    lm = model.landmarks()
    assert _distance(lm, 36, 45) == pytest.approx(90, abs=1)  # ex-ex
    assert _distance(lm, 39, 42) == pytest.approx(32, abs=1)  # en-en
    assert _distance(lm, 48, 54) == pytest.approx(52, abs=1)  # ch-ch
    assert _distance(lm, 0, 16) == pytest.approx(134, abs=2)  # face contour at the cheekbones
    assert lm[33, 1] - lm[8, 1] == pytest.approx(66, abs=3)  # subnasale to chin
    assert lm[30, 2] - lm[33, 2] == pytest.approx(19, abs=2)  # nasal tip protrusion
    eye_height = lm[[37, 38], 1].mean() - lm[[40, 41], 1].mean()
    assert 8 < eye_height < 12


def test_every_mode_is_left_right_symmetric(model):
    basis = np.hstack([model.identity_basis, model.expression_basis]).reshape(68, 3, -1)
    mirrored = basis[MIRROR] * np.array([-1, 1, 1])[:, None]
    np.testing.assert_allclose(mirrored, basis, atol=1e-9)


def test_modes_have_plausible_millimetre_amplitudes(model):
    for basis in (model.identity_basis, model.expression_basis):
        peak = np.abs(basis.reshape(68, 3, -1)).max(axis=(0, 1))
        assert np.all(peak > 0.7) and np.all(peak < 8.0), peak


def test_modes_contain_no_pose_or_scale(model):
    x = model.mean - model.mean.mean(0)
    motions = [np.tile(np.eye(3)[k], (68, 1)).ravel() for k in range(3)]
    motions += [np.cross(np.eye(3)[k], x).ravel() for k in range(3)] + [x.ravel()]
    A = np.stack(motions, axis=1)
    basis = np.hstack([model.identity_basis, model.expression_basis])
    np.testing.assert_allclose(A.T @ basis, 0.0, atol=1e-9)


def test_identity_and_expression_bases_are_separable(model):
    basis = np.hstack([model.identity_basis, model.expression_basis])
    assert np.linalg.matrix_rank(basis) == 31
    unit = basis / np.linalg.norm(basis, axis=0)
    singular = np.linalg.svd(unit, compute_uv=False)
    assert singular[0] / singular[-1] < 30  # measured 20.5
    q_id, _ = np.linalg.qr(model.identity_basis)
    q_ex, _ = np.linalg.qr(model.expression_basis)
    cosines = np.linalg.svd(q_id.T @ q_ex, compute_uv=False)
    assert np.degrees(np.arccos(cosines.max())) > 5  # smallest principal angle, measured 9
    # noise-free landmarks determine alpha and beta exactly
    rng = np.random.default_rng(0)
    alpha, beta = rng.normal(size=16), rng.normal(size=15)
    offset = (model.landmarks(alpha, beta) - model.mean).ravel()
    recovered = np.linalg.lstsq(basis, offset, rcond=None)[0]
    np.testing.assert_allclose(recovered, np.r_[alpha, beta], atol=1e-8)


def test_named_modes_move_what_they_say(model):
    def move(name):
        if name in model.identity_names:
            alpha = np.eye(model.n_alpha)[model.identity_names.index(name)]
            return model.landmarks(alpha) - model.landmarks()
        beta = np.eye(model.n_beta)[model.expression_names.index(name)]
        return model.landmarks(beta=beta) - model.landmarks()

    lm = model.landmarks()
    d = move("AU26_jaw_drop")
    assert d[57, 1] - d[51, 1] < -4  # lower lip drops away from the upper lip
    d = move("AU12_lip_corner_puller")
    assert d[54, 0] > 1.5 and d[48, 0] < -1.5 and d[54, 1] > d[57, 1]
    d = move("AU43_eyes_closed")
    assert (d[37, 1] - d[41, 1]) < -4  # the eye opening shrinks
    d = move("AU1+2_brow_raiser")
    assert d[19, 1] - d[37, 1] > 2
    d = move("mouth_width")
    assert _distance(lm + d, 48, 54) - _distance(lm, 48, 54) > 3
    d = move("eye_spacing")
    assert _distance(lm + d, 39, 42) - _distance(lm, 39, 42) > 2


@pytest.mark.skipif(not REAL_3DDFA.exists(), reason="real 3DDFA BFM files not available")
def test_mean_resembles_the_basel_face_model_mean(model):
    """Shape check against a scanned model (comparison only: nothing was fitted to it)."""
    u = np.load(REAL_3DDFA / "u_shp.npy").ravel() + np.load(REAL_3DDFA / "u_exp.npy").ravel()
    bfm = u[np.load(REAL_3DDFA / "keypoints_sim.npy")].reshape(68, 3).astype(float)
    a = model.landmarks() - model.landmarks().mean(0)
    b = bfm - bfm.mean(0)
    u_, s_, vt = np.linalg.svd(b.T @ a)
    b = (s_.sum() / (b**2).sum()) * b @ (u_ @ vt)  # similarity Procrustes onto ours
    rms = np.sqrt(((a - b) ** 2).sum(1).mean())
    assert rms < 0.1 * _distance(a, 36, 45)  # measured about 8 mm for a 90 mm eye span
    mid = np.sqrt(((a - b)[17:] ** 2).sum(1).mean())  # brows, nose, eyes, mouth
    assert mid < 0.07 * _distance(a, 36, 45)
