"""Landmark fitting: recovery, throughput, memory, and eos-py side by side.

    python benchmarks/fitting.py            # full run, a few minutes on 2 cores
    python benchmarks/fitting.py --quick    # smaller sizes, ~1 minute

Tables:
0. ours against a plain per-image numpy loop (affine camera + ridge solve, 3 rounds), same run;
1. recovery of the truth on synthetic faces of the built-in model (1 px noise, 200 px faces);
2. fits per second for 1k and 10k samples, built-in model and the 3DDFA Basel Face Model
   (landmark-restricted; from /work/shared/models/3ddfa_bfm when present), single-view and
   joint 5-view, 1 and 2 threads, with peak traced memory;
3. eos-py (``fit_shape_and_pose``, Surrey Face Model, contour fitting, 5 iterations) on the
   same landmark sets as ours: landmarks of real photos (dlib) under random similarity
   transforms, and synthetic landmarks; fits/s, the ratio, and the RMS reprojection error of
   both on the 50 landmarks that eos maps to fixed vertices. Skipped when eos or its files are
   absent. eos fits one image per call; we fit the whole batch at once;
4. the torch implementation (``device="cpu"``, and ``"cuda"`` with a GPU) against numpy.
"""

from __future__ import annotations

import argparse
import functools
import os
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

from sk3dface import (
    FaceLandmarker,
    MorphableCoefficientExtractor,
    MorphableModel,
    MultiViewAggregator,
    load_model,
)
from sk3dface._layout import N_POSE, CoefficientLayout
from sk3dface.datasets import make_synthetic_faces

SHARED = Path(os.environ.get("SK3DFACE_SHARED", "/work/shared"))
BFM_DIR = SHARED / "models" / "3ddfa_bfm"
EOS_DIR = SHARED / "models" / "eos_sfm"


def best_time(function, repeat=3):
    """Best wall-clock and best CPU seconds (all threads) of ``repeat`` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def peak_memory_mb(function):
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def table(title, header, rows):
    print(f"\n## {title}\n")
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("| " + " | ".join(str(x).rjust(w) for x, w in zip(row, widths, strict=True)) + " |")


def blocks(out, n_alpha, n_beta):
    layout = CoefficientLayout(out.shape[1] // (n_alpha + n_beta + N_POSE), n_alpha, n_beta)
    out = layout.split(out)
    return out[..., layout.alpha], out[..., layout.beta], out[..., layout.pose.start :]


# ----------------------------------------------------------------------------- recovery
def recovery(n_subjects):
    rows = []
    frontal = make_synthetic_faces(
        n_subjects=n_subjects, n_views=1, yaw_range=(-5, 5), pitch_range=(-5, 5),
        roll_range=(-5, 5), random_state=0,
    )  # fmt: skip
    alpha, beta, pose = blocks(
        MorphableCoefficientExtractor(landmark_noise=1.0).fit_transform(frontal.X), 16, 15
    )
    rows.append(
        [
            "frontal, single view",
            f"{np.corrcoef(beta.ravel(), frontal.beta.ravel())[0, 1]:.3f}",
            f"{np.corrcoef(alpha.ravel(), frontal.alpha.ravel())[0, 1]:.3f}",
            f"{np.sqrt(np.mean((alpha[:, 0] - frontal.alpha) ** 2)):.3f}",
            f"{np.mean(pose[..., 6]):.2f}",
        ]
    )
    views = make_synthetic_faces(n_subjects=n_subjects, n_views=3, random_state=1)
    for multiview in ("independent", "joint"):
        out = MorphableCoefficientExtractor(multiview=multiview, landmark_noise=1.0).fit_transform(
            views.X
        )
        alpha, beta, pose = blocks(out, 16, 15)
        truth_beta = np.repeat(views.beta[:, None], 3, axis=1)
        rows.append(
            [
                f"3 views (yaw -30..30), {multiview}, per view",
                f"{np.corrcoef(beta.ravel(), truth_beta.ravel())[0, 1]:.3f}",
                f"{np.corrcoef(alpha.ravel(), np.repeat(views.alpha[:, None], 3, 1).ravel())[0, 1]:.3f}",  # noqa: E501
                f"{np.sqrt(np.mean((alpha - views.alpha[:, None]) ** 2)):.3f}",
                f"{np.mean(pose[..., 6]):.2f}",
            ]
        )
        for method in ("mean", "learned"):
            merged = MultiViewAggregator(method, n_alpha=16, n_beta=15, random_state=0)
            merged = merged.fit_transform(out)
            rows.append(
                [
                    f"3 views, {multiview}, aggregated ({method})",
                    f"{np.corrcoef(merged[:, 16:31].ravel(), views.beta.ravel())[0, 1]:.3f}",
                    f"{np.corrcoef(merged[:, :16].ravel(), views.alpha.ravel())[0, 1]:.3f}",
                    f"{np.sqrt(np.mean((merged[:, :16] - views.alpha) ** 2)):.3f}",
                    f"{np.mean(merged[:, -1]):.2f}",
                ]
            )
    table(
        f"Recovery: built-in model, 1 px noise, 200 px faces, {n_subjects} faces",
        ["data / fit", "corr(beta)", "corr(alpha)", "RMSE(alpha)", "RMS px"],
        rows,
    )


# ----------------------------------------------------------------------------- throughput
def throughput(sizes, models):
    rows = []
    for model_name, model in models:
        for n_views, multiview in ((1, "independent"), (5, "joint")):
            for n in sizes:
                faces = make_synthetic_faces(
                    n_subjects=n, n_views=n_views, model=model, yaw_range=(-40, 40),
                    random_state=0,
                )  # fmt: skip
                rates = []
                for n_jobs in (1, 2):
                    extractor = MorphableCoefficientExtractor(
                        model=model, multiview=multiview, n_jobs=n_jobs
                    ).fit(faces.X)
                    wall, cpu = best_time(lambda e=extractor, X=faces.X: e.transform(X))
                    rates += [n * n_views / wall, n * n_views / cpu]
                memory = peak_memory_mb(lambda e=extractor, X=faces.X: e.transform(X))
                rows.append(
                    [
                        model_name,
                        f"{model.n_alpha}+{model.n_beta}",
                        f"{n_views} ({multiview})",
                        f"{n:,}",
                        f"{rates[0]:,.0f}",
                        f"{rates[2]:,.0f}",
                        f"{rates[3]:,.0f}",
                        f"{1e6 / rates[3]:.0f}",
                        f"{memory:.0f}",
                    ]
                )
    table(
        "Throughput (view fits per second; a joint sample of 5 views counts 5 fits; "
        "per CPU-second: CPU time of all threads, robust to other load on the machine)",
        ["model", "alpha+beta", "views", "samples", "fits/s 1 thr", "fits/s 2 thr",
         "fits per CPU-s", "CPU us/fit", "peak MB"],
        rows,
    )  # fmt: skip


# ----------------------------------------------------------------------------- loop
def per_image_loop(points, mean, basis, ridge, n_iter=3):
    """The plain reference: one image at a time, affine camera + ridge solve, ``n_iter`` rounds.

    points (n, L, 2) pixels, basis (L, 3, K); returns the coefficients (n, K).
    """
    n, K = len(points), basis.shape[-1]
    out = np.full((n, K), np.nan)
    for i in range(n):
        q = points[i] * (1.0, -1.0)
        ok = np.isfinite(q).all(1)
        q, m, B = q[ok], mean[ok], basis[ok]
        shape = m
        for _ in range(n_iter):
            camera = np.linalg.lstsq(np.c_[shape, np.ones(len(shape))], q, rcond=None)[0]
            U, sv, Vt = np.linalg.svd(camera[:3].T, full_matrices=False)
            R2, s = U @ Vt, sv.mean()  # nearest scaled rotation
            t = (q - s * shape @ R2.T).mean(0)
            M = (s * np.einsum("ij,ljk->lik", R2, B)).reshape(-1, K)
            residual = (q - t - s * m @ R2.T).ravel()
            coef = np.linalg.solve(M.T @ M + np.diag(ridge), M.T @ residual)
            shape = m + B @ coef
        out[i] = coef
    return out


def versus_loop(models, n):
    """Single-view fits/s of the per-image loop and of ours, measured in the same run."""
    from threadpoolctl import threadpool_limits

    rows = []
    for model_name, model in models:
        faces = make_synthetic_faces(
            n_subjects=n, n_views=1, model=model, yaw_range=(-40, 40), random_state=0
        )
        points = faces.X.reshape(n, 68, 2)
        basis = np.concatenate(
            [model.identity_basis.reshape(68, 3, -1), model.expression_basis.reshape(68, 3, -1)],
            axis=-1,
        )
        ridge = np.full(basis.shape[-1], 2.0**2)  # sigma = 2 px, the extractor's default
        few = points[: max(200, n // 10)]
        with threadpool_limits(1, user_api="blas"):
            loop_wall, loop_cpu = best_time(
                functools.partial(per_image_loop, few, model.mean, basis, ridge)
            )
        loop_rate = len(few) / loop_wall
        rates = []
        for n_jobs in (1, 2):
            extractor = MorphableCoefficientExtractor(model=model, n_jobs=n_jobs).fit(faces.X)
            wall, cpu = best_time(functools.partial(extractor.transform, faces.X), repeat=5)
            rates += [n / wall, n / cpu]
        rows.append(
            [model_name, f"{model.n_alpha}+{model.n_beta}", f"{loop_rate:,.0f}",
             f"{len(few) / loop_cpu:,.0f}", f"{rates[0]:,.0f}", f"{rates[0] / loop_rate:.1f}",
             f"{rates[2]:,.0f}", f"{rates[1]:,.0f}", f"{rates[1] * loop_cpu / len(few):.1f}"]
        )  # fmt: skip
    table(
        f"Ours against a plain per-image numpy loop (single view, {n:,} fits, best of repeats; "
        "loop: affine camera + ridge solve, 3 rounds, BLAS single-threaded)",
        ["model", "alpha+beta", "loop fits/s", "loop per CPU-s", "ours 1 thr", "x loop",
         "ours 2 thr", "ours per CPU-s", "x loop per CPU-s"],
        rows,
    )  # fmt: skip


# ----------------------------------------------------------------------------- torch
def torch_fitter(models, n):
    """The torch implementation (``device=``) against numpy, same data, same run.

    Max |difference| of all outputs shows the two agree; on a machine with CUDA the GPU
    row also fits ``n * 100`` landmark sets in one call.
    """
    try:
        import torch
    except ImportError:
        print("\n## torch fitter\n\nskipped: torch is not installed")
        return
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for model_name, model in models:
        faces = make_synthetic_faces(
            n_subjects=n, n_views=1, model=model, yaw_range=(-40, 40), random_state=0
        )
        reference = MorphableCoefficientExtractor(model=model).fit(faces.X)
        expected = reference.transform(faces.X)
        numpy_wall, _ = best_time(functools.partial(reference.transform, faces.X))
        rows.append([model_name, "numpy", f"{n:,}", f"{n / numpy_wall:,.0f}", "1.00", "0"])
        for device in devices:
            extractor = MorphableCoefficientExtractor(model=model, device=device).fit(faces.X)
            size = n * (100 if device == "cuda" else 1)
            X = np.tile(faces.X, (size // n, 1))
            extractor.transform(faces.X[:10])  # CUDA context and kernels: not timed
            wall, _ = best_time(functools.partial(extractor.transform, X))
            difference = np.nanmax(np.abs(extractor.transform(faces.X) - expected))
            ratio = (size / wall) / (n / numpy_wall)
            rows.append([model_name, f"torch {device}", f"{size:,}", f"{size / wall:,.0f}",
                         f"{ratio:.2f}", f"{difference:.1e}"])  # fmt: skip
    table(
        "Torch fitter (float64; single view; torch's own threads) against numpy (1 thread)",
        ["model", "implementation", "fits", "fits/s", "x numpy", "max |diff| vs numpy"],
        rows,
    )
    if len(devices) == 1:
        print("\nNo CUDA device here: the GPU row is printed on a machine with one.")


# ----------------------------------------------------------------------------- eos
def eos_setup():
    try:
        import eos
    except ImportError:
        return None
    files = ["sfm_shape_3448.bin", "expression_blendshapes_3448.bin", "ibug_to_sfm.txt",
             "sfm_3448_edge_topology.json", "sfm_model_contours.json"]  # fmt: skip
    if not all((EOS_DIR / f).exists() for f in files):
        return None
    shape = eos.morphablemodel.load_model(str(EOS_DIR / files[0]))
    blendshapes = eos.morphablemodel.load_blendshapes(str(EOS_DIR / files[1]))
    model = eos.morphablemodel.MorphableModel(
        shape.get_shape_model(), blendshapes, color_model=eos.morphablemodel.PcaModel(),
        vertex_definitions=None, texture_coordinates=shape.get_texture_coordinates(),
    )  # fmt: skip
    mapper = eos.core.LandmarkMapper(str(EOS_DIR / files[2]))
    mapping = {int(k): int(v) for k, v in mapper.get_mappings().items()}  # 1-based iBUG
    setup = dict(
        eos=eos,
        model=model,
        mapper=mapper,
        topology=eos.morphablemodel.load_edge_topology(str(EOS_DIR / files[3])),
        contour_landmarks=eos.fitting.ContourLandmarks.load(str(EOS_DIR / files[2])),
        model_contour=eos.fitting.ModelContour.load(str(EOS_DIR / files[4])),
        fixed=np.array(sorted(mapping)) - 1,  # 0-based iBUG points eos maps to vertices
        vertices=np.array([mapping[i] for i in sorted(mapping)]),
    )
    setup["sfm"] = sfm_as_our_model(shape, blendshapes, setup)
    return setup


def sfm_as_our_model(shape, blendshapes, setup):
    """The Surrey model as a MorphableModel; landmarks eos does not map to a fixed vertex
    (the jaw contour, inner mouth corners) point at vertex 0 and are given as NaN."""
    pca = shape.get_shape_model()
    mean = np.asarray(pca.get_mean(), dtype=float).reshape(-1, 3)
    index = np.zeros(68, dtype=int)
    index[setup["fixed"]] = setup["vertices"]
    return MorphableModel(
        mean,
        np.asarray(pca.get_rescaled_pca_basis(), dtype=float),
        np.stack([np.asarray(b.deformation, dtype=float) for b in blendshapes], axis=1),
        index,
        name="Surrey Face Model 3448 (eos)",
        units="mm",
    )


def eos_fit(setup, landmarks, width, height):
    """eos on each landmark set; the 2-D positions of the fixed-vertex landmarks."""
    eos = setup["eos"]
    out = np.full((len(landmarks), len(setup["fixed"]), 2), np.nan)
    for i, points in enumerate(landmarks):
        marks = [eos.core.Landmark(str(j + 1), [float(x), float(y)]) for j, (x, y) in
                 enumerate(points)]  # fmt: skip
        mesh, pose, _, _ = eos.fitting.fit_shape_and_pose(
            setup["model"], marks, setup["mapper"], width, height, setup["topology"],
            setup["contour_landmarks"], setup["model_contour"],
        )  # fmt: skip
        vertices = np.asarray(mesh.vertices)[setup["vertices"]]
        clip = (
            np.c_[vertices, np.ones(len(vertices))]
            @ (np.asarray(pose.get_projection()) @ np.asarray(pose.get_modelview())).T
        )
        ndc = clip[:, :2] / clip[:, 3:]
        out[i, :, 0] = (ndc[:, 0] + 1) / 2 * width  # the OpenCV viewport eos uses
        out[i, :, 1] = height - (ndc[:, 1] + 1) / 2 * height
    return out


def our_projection(extractor, out):
    model = extractor.model_
    alpha, beta, pose = blocks(out, model.n_alpha, model.n_beta)
    yaw, pitch, roll, tx, ty, scale, _ = np.moveaxis(pose[:, 0], -1, 0)
    return model.project_landmarks(
        alpha[:, 0], beta[:, 0], yaw=yaw, pitch=pitch, roll=roll, tx=tx, ty=ty, scale=scale
    )


def rms(predicted, landmarks):
    return float(np.sqrt(np.nanmean(((predicted - landmarks) ** 2).sum(-1))))


def photo_landmarks(n, rng):
    """dlib landmarks of the real photos we have, under random similarity transforms."""
    from matplotlib import cbook

    photos = [cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)]
    photos += sorted(str(p) for p in (SHARED / "photos").glob("*.jpg"))
    try:
        import skimage.data

        photos.append(skimage.data.astronaut())
    except ImportError:
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = FaceLandmarker(upsample=1).fit_transform(photos).reshape(-1, 68, 2)
    base = base[np.isfinite(base).all(axis=(1, 2))]
    pick = base[rng.integers(len(base), size=n)]
    centre = pick.mean(1, keepdims=True)
    angle = np.deg2rad(rng.uniform(-10, 10, n))
    rotation = np.stack([np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle)], -1)
    scale = rng.uniform(0.8, 1.2, n)[:, None, None]
    moved = (pick - centre) @ rotation.reshape(n, 2, 2).transpose(0, 2, 1) * scale
    moved = moved + 400 + rng.uniform(-20, 20, (n, 1, 2)) + rng.normal(0, 0.5, pick.shape)
    return moved, len(base)


def eos_comparison(n):
    setup = eos_setup()
    if setup is None:
        print("\n## eos-py comparison\n\nskipped: eos-py or the files in", EOS_DIR, "are absent")
        return
    rng = np.random.default_rng(0)
    photo, n_photos = photo_landmarks(n, rng)
    synthetic = make_synthetic_faces(n_subjects=n, n_views=1, yaw_range=(-30, 30),
                                     random_state=0).X.reshape(n, 68, 2)  # fmt: skip
    sets = [(f"{n_photos} real photos (dlib) x random similarity", photo, 800, 800),
            ("synthetic, built-in model, 200 px", synthetic, 500, 500)]  # fmt: skip
    fixed = setup["fixed"]
    rows = []
    for name, landmarks, width, height in sets:
        start = time.perf_counter()
        eos_points = eos_fit(setup, landmarks, width, height)
        eos_rate = n / (time.perf_counter() - start)
        rows.append([name, "eos-py (SFM 63+6, contour)", f"{eos_rate:,.1f}", "1.0",
                     f"{rms(eos_points, landmarks[:, fixed]):.2f}", "-"])  # fmt: skip
        X = landmarks.reshape(n, -1)
        tiled = np.tile(X, (max(1, 10_000 // n), 1))  # a batch of 10k, as used in practice
        unmapped = np.setdiff1d(np.arange(68), fixed)
        for label, model, options, hidden in (
            ("ours (built-in 16+15)", "default", {}, []),
            ("ours (SFM 63+6, same 50 pts)", setup["sfm"], {"contour": "fixed"}, unmapped),
        ):
            data = X.copy()
            data.reshape(n, 68, 2)[:, hidden] = np.nan  # points without a fixed SFM vertex
            extractor = MorphableCoefficientExtractor(model=model, n_jobs=2, **options).fit(X)
            batch = np.tile(data, (len(tiled) // n, 1))
            seconds, _ = best_time(lambda e=extractor, b=batch: e.transform(b))
            rate = len(batch) / seconds
            out = extractor.transform(data)
            ours = our_projection(extractor, out)
            all_points = "-" if len(hidden) else f"{rms(ours, landmarks):.2f}"
            fixed_points = f"{rms(ours[:, fixed], landmarks[:, fixed]):.2f}"
            rows.append([name, label, f"{rate:,.0f}", f"{rate / eos_rate:,.0f}", fixed_points,
                         all_points])  # fmt: skip
    table(
        f"eos-py side by side ({n} landmark sets each; eos one call per set, ours batched)",
        ["landmarks", "fitter", "fits/s", "x eos", "RMS px, 50 fixed pts", "RMS px, 68 pts"],
        rows,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    print(f"# benchmarks/fitting.py  ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    recovery(300 if args.quick else 1000)
    models = [("built-in", load_model("default"))]
    if BFM_DIR.exists():
        models.append(("3DDFA BFM", load_model(BFM_DIR).landmark_model()))
    versus_loop(models, 2000 if args.quick else 10_000)
    throughput([1000] if args.quick else [1000, 10_000], models)
    eos_comparison(50 if args.quick else 200)
    torch_fitter(models, 2000 if args.quick else 10_000)


if __name__ == "__main__":
    main()
