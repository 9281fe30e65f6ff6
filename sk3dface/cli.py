"""The ``sk3dface`` command line: ``demo``, ``landmarks``, ``fit`` and ``evaluate``.

Exit codes: 0 success, 1 a data or model problem (missing root, unreadable model, no usable
images), 2 bad arguments (argparse's own convention).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

TASKS = {"kdef": ("identity", "expression"), "fei": ("gender",)}


class CommandError(Exception):
    """A problem with the user's data or files, reported as a one-line message and exit 1."""


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-jobs", type=int, default=1, help="parallel jobs (joblib); -1 = all")
    parser.add_argument("--verbose", action="store_true", help="show progress bars")


def _existing_files(paths: Sequence[str]) -> list[str]:
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise CommandError(f"no such image file: {', '.join(missing[:5])}")
    return list(paths)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sk3dface", description="Face classification from 3D Morphable Model coefficients."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="end-to-end demo on built-in data")
    demo.add_argument("--out", default="demo_output", help="folder for the table and plots")
    demo.add_argument("--quick", action="store_true", help="smaller data and models (~1 min)")
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--cache-dir", default=None, help="joblib cache for Pipeline(memory=...)")
    _add_common(demo)

    landmarks = commands.add_parser("landmarks", help="detect 68 landmarks, print them as CSV")
    landmarks.add_argument("images", nargs="+", metavar="IMAGE")
    landmarks.add_argument("--out", default=None, help="CSV file (default: standard output)")
    landmarks.add_argument("--plot", default=None, metavar="DIR", help="save overlays as PNG")
    landmarks.add_argument("--upsample", type=int, default=1, help="dlib HOG upsampling")
    _add_common(landmarks)

    fit = commands.add_parser("fit", help="fit a morphable model to images, write coefficients")
    fit.add_argument("images", nargs="+", metavar="IMAGE")
    fit.add_argument("--model", default="default", help="model file or 'default'")
    fit.add_argument("--out", required=True, help="CSV file for the coefficients")
    fit.add_argument(
        "--view-set",
        action="store_true",
        help="treat all images as views of one person (joint fit, one row)",
    )
    _add_common(fit)

    evaluate = commands.add_parser("evaluate", help="run a paper protocol on KDEF or FEI")
    evaluate.add_argument("dataset", choices=sorted(TASKS))
    evaluate.add_argument("root", help="folder holding the data set")
    evaluate.add_argument(
        "--task", required=True, choices=sorted({t for ts in TASKS.values() for t in ts})
    )
    evaluate.add_argument("--model", default="default", help="model file or 'default'")
    evaluate.add_argument("--classifier", default="resnet", choices=["resnet", "svc"])
    evaluate.add_argument("--n-splits", type=int, default=5, help="cross-validation folds")
    evaluate.add_argument(
        "--gender-table", default=None, help="CSV with columns subject,gender (FEI gender)"
    )
    evaluate.add_argument("--max-epochs", type=int, default=None)
    evaluate.add_argument("--cache-dir", default=None, help="joblib cache for landmarks/fits")
    evaluate.add_argument("--random-state", type=int, default=0)
    _add_common(evaluate)
    return parser


def _landmarks(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    from sk3dface import FaceLandmarker

    images = _existing_files(args.images)
    landmarker = FaceLandmarker(upsample=args.upsample, n_jobs=args.n_jobs, verbose=args.verbose)
    points = landmarker.fit_transform(images)
    frame = pd.DataFrame(points, columns=landmarker.get_feature_names_out())
    frame.insert(0, "image", images)
    frame.to_csv(args.out if args.out else sys.stdout, index=False, float_format="%.2f")
    if args.plot:
        from sk3dface.plotting import save_landmark_overlay

        out = Path(args.plot)
        out.mkdir(parents=True, exist_ok=True)
        for image, row in zip(images, points, strict=True):
            save_landmark_overlay(image, row.reshape(-1, 2), out / f"{Path(image).stem}.png")
    n_failed = int(np.isnan(points).all(axis=1).sum())
    if n_failed == len(images):
        raise CommandError("no face was found in any image")


def _fit(args: argparse.Namespace) -> None:
    import pandas as pd

    from sk3dface import FaceLandmarker, MorphableCoefficientExtractor
    from sk3dface._model_io import load_model

    images = _existing_files(args.images)
    model = load_model(args.model)
    samples = [tuple(images)] if args.view_set else images
    landmarker = FaceLandmarker(n_jobs=args.n_jobs, verbose=args.verbose)
    extractor = MorphableCoefficientExtractor(
        model=model, multiview="joint" if args.view_set else "independent"
    )
    coefficients = extractor.fit_transform(landmarker.fit_transform(samples))
    frame = pd.DataFrame(coefficients, columns=extractor.get_feature_names_out())
    frame.insert(0, "image", [";".join(images)] if args.view_set else images)
    frame.to_csv(args.out, index=False, float_format="%.6g")
    print(f"wrote {len(frame)} row(s) x {coefficients.shape[1]} coefficients to {args.out}")


def _evaluate(args: argparse.Namespace) -> None:
    from sk3dface.protocols import run_protocol

    if args.task not in TASKS[args.dataset]:
        raise CommandError(
            f"task {args.task!r} is not available for {args.dataset}; "
            f"choose one of {', '.join(TASKS[args.dataset])}"
        )
    if not Path(args.root).is_dir():
        raise CommandError(f"data set root {args.root!r} is not a folder")
    report = run_protocol(
        args.dataset,
        args.root,
        task=args.task,
        model=args.model,
        classifier=args.classifier,
        n_splits=args.n_splits,
        max_epochs=args.max_epochs,
        gender_table=args.gender_table,
        cache_dir=args.cache_dir,
        n_jobs=args.n_jobs,
        random_state=args.random_state,
        verbose=args.verbose,
    )
    print(report.to_text())


def _demo(args: argparse.Namespace) -> None:
    from sk3dface._demo import run_demo

    run_demo(
        out=args.out,
        quick=args.quick,
        n_jobs=args.n_jobs,
        cache_dir=args.cache_dir,
        random_state=args.random_state,
        verbose=args.verbose,
    )


COMMANDS = {"demo": _demo, "landmarks": _landmarks, "fit": _fit, "evaluate": _evaluate}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sk3dface`` command line; returns the exit code."""
    args = _build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except (CommandError, ValueError, OSError) as error:
        print(f"sk3dface {args.command}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
