"""The built-in sparse 68-landmark morphable model, written by hand from anthropometry.

Nothing here comes from a scanned data set: the mean landmark positions are estimates from
published craniofacial norms (Farkas, *Anthropometry of the Head and Face*, 1994: adult means of
intercanthal, biocular, nasal, mouth and face widths and heights, rounded between the male and
female values), and each mode is a displacement field we wrote to describe one named, visible
variation with a plausible one-standard-deviation amplitude in millimetres.
"""

from __future__ import annotations

import functools

import numpy as np

from sk3dface._layout import N_LANDMARKS
from sk3dface.models._morphable_model import MorphableModel

# iBUG-68 left/right pairs (subject's right, subject's left); the other points lie on the midline.
_PAIRS = (
    *((i, 16 - i) for i in range(8)),  # jaw
    *((17 + i, 26 - i) for i in range(5)),  # brows
    (31, 35), (32, 34),  # nostrils
    (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),  # eyes
    (48, 54), (49, 53), (50, 52), (59, 55), (58, 56),  # outer lip
    (60, 64), (61, 63), (67, 65),  # inner lip
)  # fmt: skip
_MIDLINE = (8, 27, 28, 29, 30, 33, 51, 57, 62, 66)

# Mean position (x, y, z) in mm of the subject's right-side and midline landmarks, before
# centring. Origin: x on the midline, y at the level of the inner eye corners (endocanthion),
# z at the depth of the inner eye corners. Anthropometric anchors (Farkas 1994, adult means):
#   en-en 32 (inner corners x = ±16), ex-ex 90 (outer corners ±45, eye fissure 29 long,
#   10 high), al-al 34 (alar base 31/35 at ±14, inside the widest alar point), ch-ch 52,
#   n-sn 52 (nasion y = +10, subnasale y = -42), sn-sto 22, upper/lower vermilion 8/10,
#   n-gn 118 (chin y = -108), zy-zy 134 (face contour at the cheekbones ±67),
#   go-go 96 (jaw contour points 5/11 at ±49, near the jaw angle), nasal tip protrusion
#   sn-prn 19, nasal root depth (sellion in front of the inner canthi) 14. iBUG point 27 is
#   the top of the visible nose bridge, at the level of the eyes (below nasion); 27-30 are
#   evenly spaced. Depths of the jaw contour, brows and lips are estimates from profile norms.
_HALF_FACE = {
    # jaw contour, subject's right ear (0) down to the chin (8)
    0: (-67.0, -2.0, -56.0),
    1: (-66.5, -17.0, -55.0),
    2: (-65.0, -32.0, -52.0),
    3: (-62.0, -47.0, -48.0),
    4: (-57.0, -62.0, -42.0),
    5: (-49.0, -76.0, -33.0),
    6: (-38.0, -89.0, -22.0),
    7: (-22.0, -101.0, -10.0),
    8: (0.0, -108.0, -3.0),
    # right brow, lateral tail (17) to medial head (21)
    17: (-56.0, 14.0, -16.0),
    18: (-47.0, 20.0, -6.0),
    19: (-36.0, 23.0, 1.0),
    20: (-25.0, 22.0, 5.0),
    21: (-13.0, 19.0, 7.0),
    # nose bridge, sellion (27) to tip (30)
    27: (0.0, 2.0, 14.0),
    28: (0.0, -10.0, 20.0),
    29: (0.0, -22.0, 26.0),
    30: (0.0, -34.0, 32.0),
    # nostrils
    31: (-14.0, -38.0, 6.0),
    32: (-7.0, -41.0, 11.0),
    33: (0.0, -42.0, 13.0),
    # right eye: outer corner, upper lid (2), inner corner, lower lid (2)
    36: (-45.0, 1.0, -10.0),
    37: (-35.0, 5.5, -2.0),
    38: (-25.5, 5.0, 1.5),
    39: (-16.0, 0.0, 0.0),
    40: (-25.5, -4.5, 0.5),
    41: (-35.0, -4.0, -3.0),
    # outer lip: right corner, upper right (2), upper centre, lower centre, lower right (2)
    48: (-26.0, -63.0, -3.0),
    49: (-17.0, -57.0, 6.0),
    50: (-7.0, -54.5, 11.0),
    51: (0.0, -55.5, 12.0),
    57: (0.0, -74.0, 9.0),
    58: (-9.0, -72.5, 7.0),
    59: (-18.0, -69.0, 3.0),
    # inner lip (closed mouth): right corner, upper right, upper/lower centre, lower right
    60: (-23.0, -63.5, -1.0),
    61: (-10.0, -64.0, 7.5),
    62: (0.0, -64.0, 9.0),
    66: (0.0, -64.0, 9.0),
    67: (-10.0, -64.0, 7.5),
}


def _mirror_table() -> np.ndarray:
    points = np.empty((N_LANDMARKS, 3))
    for i, xyz in _HALF_FACE.items():
        points[i] = xyz
    for right, left in _PAIRS:
        points[left] = points[right] * (-1.0, 1.0, 1.0)
    for i in _MIDLINE:
        points[i, 0] = 0.0
    return points


_SIDE = np.sign(_mirror_table()[:, 0])  # -1 subject's right, +1 left, 0 midline

_JAW = np.arange(0, 17)
_BROWS = np.arange(17, 27)
_INNER_BROWS = np.array([20, 21, 22, 23])
_OUTER_BROWS = np.array([17, 18, 25, 26])
_NOSE_BRIDGE = np.arange(27, 31)
_NOSTRILS = np.arange(31, 36)
_EYES = np.arange(36, 48)
_RIGHT_EYE = np.arange(36, 42)
_LEFT_EYE = np.arange(42, 48)
_UPPER_LIDS = np.array([37, 38, 43, 44])
_LOWER_LIDS = np.array([40, 41, 46, 47])
_OUTER_CORNERS = np.array([48, 54])
_INNER_CORNERS = np.array([60, 64])
_UPPER_LIP_OUTER = np.array([49, 50, 51, 52, 53])
_LOWER_LIP_OUTER = np.array([55, 56, 57, 58, 59])
_UPPER_LIP_INNER = np.array([61, 62, 63])
_LOWER_LIP_INNER = np.array([65, 66, 67])
_MOUTH = np.arange(48, 68)


def _field(**moves: tuple) -> np.ndarray:
    """Displacement field from ``name=(indices, dx, dy, dz)``; dx is outwards (mirrored)."""
    d = np.zeros((N_LANDMARKS, 3))
    for idx, dx, dy, dz in moves.values():
        idx = np.atleast_1d(idx)
        d[idx, 0] += _SIDE[idx] * np.asarray(dx, dtype=float)
        d[idx, 1] += dy
        d[idx, 2] += dz
    return d


def _jaw_weight(mean: np.ndarray, lower: bool) -> np.ndarray:
    """0..1 along the jaw contour: 1 at the chin if ``lower`` else at the ears."""
    y = mean[_JAW, 1]
    t = (y - y.min()) / (y.max() - y.min())  # 1 at the top of the contour
    return 1.0 - t if lower else t


def _identity_modes(mean: np.ndarray) -> dict[str, np.ndarray]:
    eye_centre = {
        **{i: mean[_RIGHT_EYE].mean(0) for i in _RIGHT_EYE},
        **{i: mean[_LEFT_EYE].mean(0) for i in _LEFT_EYE},
    }
    eye_offset = np.array([mean[i] - eye_centre[i] for i in _EYES])
    upper = _jaw_weight(mean, lower=False)
    lower = _jaw_weight(mean, lower=True)
    gonial = np.exp(-(((np.arange(17) - 4.5) / 1.6) ** 2))
    gonial = gonial + gonial[::-1]
    return {
        # bizygomatic width SD ~5 mm: upper face contour moves out 2.5 mm a side
        "face_width": _field(jaw=(_JAW, 2.5 * upper, 0.0, 0.0), brow=([17, 26], 1.0, 0, 0)),
        # n-gn SD ~6 mm: chin down 6 mm, mouth 2.5 mm, the jaw contour in proportion
        "face_height": _field(
            jaw=(_JAW, 0.0, -6.0 * lower**1.5, 0.0), mouth=(_MOUTH, 0.0, -2.5, 0.0)
        ),
        # go-go SD ~5 mm
        "jaw_width": _field(jaw=(_JAW, 2.5 * gonial, 0.0, 0.0)),
        # soft-tissue pogonion projection SD ~3 mm
        "chin_prominence": _field(
            jaw=(_JAW, 0.0, 0.0, 3.0 * np.exp(-(((np.arange(17) - 8) / 1.5) ** 2))),
            lip=([56, 57, 58], 0.0, 0.0, 0.8),
        ),
        # n-sn SD ~3 mm
        "nose_length": _field(
            bridge=(_NOSE_BRIDGE, 0.0, [0.0, -1.0, -2.0, -3.0], 0.0),
            nostrils=(_NOSTRILS, 0.0, -3.0, 0.0),
        ),
        # al-al SD ~3 mm
        "nose_width": _field(wings=([31, 35], 1.5, 0.0, 0.0), nostrils=([32, 34], 0.7, 0, 0)),
        # nasal tip protrusion SD ~2.5 mm
        "nose_projection": _field(
            bridge=(_NOSE_BRIDGE, 0.0, 0.0, [0.5, 1.2, 1.9, 2.5]),
            nostrils=(_NOSTRILS, 0.0, 0.0, [0.8, 1.5, 1.8, 1.5, 0.8]),
        ),
        # sellion depth SD ~2 mm
        "nose_bridge_height": _field(bridge=(_NOSE_BRIDGE, 0.0, 0.0, [2.0, 1.4, 0.7, 0.2])),
        # en-en SD ~3 mm: each eye 1.5 mm outwards
        "eye_spacing": _field(eyes=(_EYES, 1.5, 0.0, 0.0), brows=(_INNER_BROWS, 0.6, 0, 0)),
        # palpebral fissure length SD ~2 mm, height SD ~1 mm
        "eye_size": _field(
            eyes=(_EYES, 0.07 * np.abs(eye_offset[:, 0]), 0.1 * eye_offset[:, 1], 0.0)
        ),
        # canthal tilt SD ~3 degrees: outer corners up 1.5 mm
        "eye_tilt": _field(
            corners=([36, 45], 0.0, 1.5, 0.0), lids=([37, 44, 41, 46], 0.0, 0.7, 0.0)
        ),
        # brow-to-eye distance SD ~3 mm, the whole brow, with a slight fullness forward
        "brow_height": _field(
            right=(np.arange(17, 22), 0.0, [3.0, 2.8, 2.5, 2.2, 2.0], 0.5),
            left=(np.arange(22, 27), 0.0, [2.0, 2.2, 2.5, 2.8, 3.0], 0.5),
        ),
        # ch-ch SD ~4 mm
        "mouth_width": _field(
            corners=(_OUTER_CORNERS, 2.0, 0.0, -0.5),
            inner=(_INNER_CORNERS, 1.8, 0.0, -0.4),
            sides=([49, 53, 55, 59], 1.0, 0.0, 0.0),
            inner_sides=([61, 63, 65, 67], 0.8, 0.0, 0.0),
        ),
        # vermilion height SD ~1.5 mm a lip, with the lips fuller forward
        "lip_thickness": _field(
            upper=(_UPPER_LIP_OUTER, 0.0, [0.8, 1.3, 1.5, 1.3, 0.8], 1.2),
            lower=(_LOWER_LIP_OUTER, 0.0, [-0.8, -1.3, -1.5, -1.3, -0.8], 1.2),
            inner=(np.r_[_UPPER_LIP_INNER, _LOWER_LIP_INNER], 0.0, 0.0, 0.8),
        ),
        # sn-sto SD ~2.5 mm: the mouth lower under the nose
        "philtrum_length": _field(mouth=(_MOUTH, 0.0, -2.5, 0.0), chin=(_JAW, 0, -lower, 0)),
        # profile convexity SD ~3 mm: nose, mouth and chin forward of the eyes and cheeks
        "midface_projection": _field(
            nose=(np.r_[_NOSE_BRIDGE, _NOSTRILS], 0.0, 0.0, 2.5),
            mouth=(_MOUTH, 0.0, 0.0, 2.0),
            jaw=(_JAW, 0.0, 0.0, 1.5 * lower**2),
            cheeks=(_JAW, -1.0 * upper, 0.0, -1.0 * upper),
        ),
    }


def _expression_modes(mean: np.ndarray) -> dict[str, np.ndarray]:
    lower = _jaw_weight(mean, lower=True)
    return {
        # AU1+2: inner and outer brows up, the inner part more
        "AU1+2_brow_raiser": _field(
            inner=([21, 22], 0.0, 4.5, 0.5),
            mid=([19, 20, 23, 24], 0.0, [3.5, 4.0, 4.0, 3.5], 0.3),
            outer=(_OUTER_BROWS, 0.0, [1.5, 2.5, 2.5, 1.5], 0.0),
            lids=(_UPPER_LIDS, 0.0, 0.5, 0.0),
        ),
        # AU4: brows down and together
        "AU4_brow_lowerer": _field(
            inner=([20, 21, 22, 23], -2.0, [-2.5, -3.0, -3.0, -2.5], 0.5),
            outer=([17, 18, 19, 24, 25, 26], -0.8, -1.2, 0.0),
            lids=(_UPPER_LIDS, 0.0, -0.6, 0.0),
        ),
        # AU5: upper lid raised, white above the iris
        "AU5_upper_lid_raiser": _field(lids=(_UPPER_LIDS, 0.0, 2.0, 0.3)),
        # AU6: cheeks up, lower lids pushed up, crow's feet
        "AU6_cheek_raiser": _field(
            lids=(_LOWER_LIDS, 0.0, 1.5, 0.3),
            corners=([36, 45], -0.5, 0.5, 0.0),
            cheeks=([1, 2, 3, 13, 14, 15], 0.0, 1.5, 0.5),
            mouth=(_OUTER_CORNERS, 0.0, 1.0, 0.0),
        ),
        # AU9: nose wrinkled, nostrils and upper lip up, inner brows down
        "AU9_nose_wrinkler": _field(
            nostrils=(_NOSTRILS, [0.8, 0.3, 0.0, 0.3, 0.8], 2.0, 0.0),
            bridge=(_NOSE_BRIDGE, 0.0, [0.0, 0.5, 1.0, 1.2], -0.5),
            brows=([20, 21, 22, 23], -0.5, -1.5, 0.0),
            lip=(_UPPER_LIP_OUTER, 0.0, 1.0, 0.0),
        ),
        # AU10: upper lip raised, the centre most
        "AU10_upper_lip_raiser": _field(
            lip=(_UPPER_LIP_OUTER, 0.0, [2.0, 3.0, 3.0, 3.0, 2.0], 0.5),
            inner=(_UPPER_LIP_INNER, 0.0, 2.5, 0.3),
            wings=([31, 35], 0.3, 0.8, 0.0),
        ),
        # AU12: smile, lip corners out, up and back
        "AU12_lip_corner_puller": _field(
            corners=(_OUTER_CORNERS, 4.0, 3.5, -2.5),
            inner=(_INNER_CORNERS, 3.5, 3.0, -2.0),
            sides=([49, 53, 59, 55], 2.0, 1.5, -0.8),
            inner_sides=([61, 63, 67, 65], 1.5, 1.0, -0.5),
            wings=([31, 35], 0.5, 0.5, 0.0),
            cheeks=([3, 4, 12, 13], 0.8, 0.8, 0.0),
        ),
        # AU15: lip corners pulled down
        "AU15_lip_corner_depressor": _field(
            corners=(_OUTER_CORNERS, 0.5, -3.0, 0.0),
            inner=(_INNER_CORNERS, 0.4, -2.5, 0.0),
            sides=([59, 55, 67, 65], 0.0, -1.0, 0.0),
        ),
        # AU18: lips pushed forward and narrowed
        "AU18_lip_pucker": _field(
            corners=(_OUTER_CORNERS, -4.0, 0.0, 2.0),
            inner=(_INNER_CORNERS, -3.5, 0.0, 2.0),
            sides=([49, 53, 59, 55], -2.0, 0.0, 3.0),
            inner_sides=([61, 63, 67, 65], -1.5, 0.0, 3.0),
            centre=([50, 51, 52, 56, 57, 58, 62, 66], 0.0, 0.0, 3.5),
        ),
        # AU20: lips stretched sideways and flattened
        "AU20_lip_stretcher": _field(
            corners=(_OUTER_CORNERS, 4.0, -1.0, -1.5),
            inner=(_INNER_CORNERS, 3.5, -0.8, -1.2),
            sides=([49, 53, 59, 55], 2.0, 0.0, -0.5),
            upper=([50, 51, 52], 0.0, -0.5, -0.5),
            lower=([56, 57, 58], 0.0, 0.5, -0.5),
        ),
        # AU24: lips pressed together, red parts narrowed
        "AU24_lip_presser": _field(
            upper=(_UPPER_LIP_OUTER, 0.0, -1.5, -0.5),
            lower=(_LOWER_LIP_OUTER, 0.0, 1.5, -0.5),
            corners=(np.r_[_OUTER_CORNERS, _INNER_CORNERS], -0.8, 0.0, -0.3),
            chin=([7, 8, 9], 0.0, 0.8, 0.5),
        ),
        # AU25: lips part without the jaw dropping
        "AU25_lips_part": _field(
            upper=(_UPPER_LIP_INNER, 0.0, 1.5, 0.0),
            lower=(_LOWER_LIP_INNER, 0.0, -1.5, 0.0),
            outer_upper=([50, 51, 52], 0.0, 0.5, 0.0),
            outer_lower=([56, 57, 58], 0.0, -0.5, 0.0),
        ),
        # AU26: jaw drops (rotation about the jaw joints): chin down and a little back
        "AU26_jaw_drop": _field(
            jaw=(_JAW, 0.0, -7.0 * lower**1.5, -2.0 * lower**1.5),
            lower_lip=(np.r_[_LOWER_LIP_OUTER, _LOWER_LIP_INNER], 0.0, -6.0, -1.5),
            corners=(np.r_[_OUTER_CORNERS, _INNER_CORNERS], 0.0, -3.0, -0.5),
        ),
        # AU27: mouth stretched open: lips pulled apart vertically, corners drawn in
        "AU27_mouth_stretch": _field(
            jaw=(_JAW, 0.0, -4.0 * lower**1.5, -1.0 * lower**1.5),
            upper=(_UPPER_LIP_INNER, 0.0, 2.0, -0.5),
            upper_outer=(_UPPER_LIP_OUTER, 0.0, 1.5, -0.5),
            lower=(_LOWER_LIP_INNER, 0.0, -6.0, -1.0),
            lower_outer=(_LOWER_LIP_OUTER, 0.0, -5.0, -1.0),
            corners=(np.r_[_OUTER_CORNERS, _INNER_CORNERS], -2.5, -1.0, 0.0),
        ),
        # AU43: eyes closing, upper lids down, lower lids up a little
        "AU43_eyes_closed": _field(
            upper=(_UPPER_LIDS, 0.0, -4.0, 0.0), lower=(_LOWER_LIDS, 0.0, 2.0, 0.0)
        ),
    }


def _remove_similarity(mean: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Project out translation, infinitesimal rotation and uniform scale of ``mean``.

    What remains is a pure change of shape, so a fit cannot trade a mode for pose or scale.
    """
    x = mean - mean.mean(0)
    motions = [np.tile(np.eye(3)[k], (N_LANDMARKS, 1)) for k in range(3)]
    motions += [np.cross(np.eye(3)[k], x) for k in range(3)]
    motions.append(x)
    A = np.stack([m.ravel() for m in motions], axis=1)
    f = field.ravel()
    f = f - A @ np.linalg.lstsq(A, f, rcond=None)[0]
    return f.reshape(field.shape)


@functools.lru_cache(maxsize=1)
def _build() -> MorphableModel:
    mean = _mirror_table()
    mean = mean - mean.mean(0)
    ident = _identity_modes(mean)
    expr = _expression_modes(mean)
    identity_basis = np.stack([_remove_similarity(mean, f).ravel() for f in ident.values()], 1)
    expression_basis = np.stack([_remove_similarity(mean, f).ravel() for f in expr.values()], 1)
    return MorphableModel(
        mean,
        identity_basis,
        expression_basis,
        np.arange(N_LANDMARKS),
        identity_names=list(ident),
        expression_names=list(expr),
        name="sk3dface default sparse anthropometric 68-landmark model",
        units="mm",
    )


def make_default_model() -> MorphableModel:
    """The built-in sparse 68-landmark morphable model (millimetres).

    A hand-made model so that everything runs on a fresh install: the mean is the 68 iBUG
    landmarks of an average adult face placed from published anthropometric norms (Farkas
    1994: inter- and outer-canthal width 32/90 mm, nose width 34 mm, mouth width 52 mm,
    nasion-gnathion 118 mm, bizygomatic 134 mm, bigonial 96 mm, nasal and lip heights and
    depths), left/right symmetric, centred on the landmarks' centroid. It has 16 named
    identity modes (face width and height, jaw width, chin, nose length/width/projection,
    eye spacing/size/tilt, brow height, mouth width, lips, ...) and 15 FACS-style expression
    modes (AU1+2, AU4, AU5, AU6, AU9, AU10, AU12, AU15, AU18, AU20, AU24, AU25, AU26, AU27,
    AU43); see ``identity_names`` / ``expression_names``. Each mode is a displacement field
    written by hand whose size at coefficient 1 is our estimate of one standard deviation
    (identity) or of a moderate expression (FACS intensity ~B-C); the translation, rotation
    and uniform-scale parts of every mode are projected out so a fit cannot confuse them with
    pose, and the 31 modes are linearly independent.

    It is a sparse landmark model, not a dense face (no mesh, no texture); the amplitudes are
    estimates, the modes are not statistically decorrelated, and it is not derived from any
    scanned data set (so it carries no data licence). Use a real model (``load_model``) when
    coefficients must mean what a published 3DMM's coefficients mean.

    Returns
    -------
    model : MorphableModel
        ``n_vertices == 68``, ``landmark_indices == arange(68)``, ``units == "mm"``,
        ``n_alpha == 16``, ``n_beta == 15``. Built once and cached; each call returns a new
        object sharing the cached read-only arrays.

    See Also
    --------
    sk3dface.load_model : Load a real model file; ``load_model("default")`` returns this one.
    MorphableModel : The model container.

    Examples
    --------
    >>> from sk3dface import make_default_model
    >>> model = make_default_model()
    >>> model.n_vertices, model.n_alpha, model.n_beta, model.units
    (68, 16, 15, 'mm')
    >>> model.expression_names[12]
    'AU26_jaw_drop'
    >>> lm = model.landmarks()
    >>> round(float(lm[45, 0] - lm[36, 0]))  # outer-canthal width in mm
    90
    """
    return _build().copy()
