"""The ``sk3dface`` command line: ``demo``, ``landmarks``, ``fit`` and ``evaluate``.

Exit codes: 0 success; 1 a data or model problem (missing root, unreadable model, images
without landmarks: ``landmarks`` and ``fit`` still write a row for every image and name the
failed ones); 2 bad arguments (argparse's own convention); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any


class CommandError(Exception):
    """A problem with the user's data or files, reported as a one-line message and exit 1."""


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _n_jobs(text: str) -> int:
    value = _int_at_least(-(2**31))(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be a positive number of jobs or -1 (all cores)")
    return value


def _add_common(parser: argparse.ArgumentParser, cache_help: str) -> None:
    parser.add_argument(
        "--n-jobs", type=_n_jobs, default=1, help="parallel jobs (joblib); -1 = all cores"
    )
    parser.add_argument("--cache-dir", default=None, help=cache_help)
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v", "--verbose", action="store_true", help="progress bars and INFO log lines"
    )
    loudness.add_argument("-q", "--quiet", action="store_true", help="errors only")


def _common_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options :func:`_add_common` adds, as keyword arguments."""
    return {"n_jobs": args.n_jobs, "cache_dir": args.cache_dir, "verbose": args.verbose}


class _OneLineFormatter(logging.Formatter):
    """``sk3dface COMMAND: message`` (``warning:``/``error:`` before warnings and errors)."""

    def __init__(self, command: str) -> None:
        super().__init__()
        self.command = command

    def format(self, record: logging.LogRecord) -> str:
        level = f"{record.levelname.lower()}: " if record.levelno >= logging.WARNING else ""
        message = " ".join(record.getMessage().split())  # one line, whatever the message
        return f"sk3dface {self.command}: {level}{message}"


@contextlib.contextmanager
def _terminal_output(args: argparse.Namespace) -> Iterator[None]:
    """Log lines and warnings as one line each on standard error, for this run only.

    ``-v`` shows the ``sk3dface`` loggers' INFO lines, ``-q`` errors only. A warning shows as
    ``sk3dface COMMAND: warning: message (Category)``, without Python's source line.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter(args.command))
    logger = logging.getLogger("sk3dface")
    level = logging.INFO if args.verbose else logging.ERROR if args.quiet else logging.WARNING
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)

    def show(message, category, filename, lineno, file=None, line=None):
        logging.getLogger("sk3dface.cli").warning("%s (%s)", message, category.__name__)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _add_landmarker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "images",
        nargs="+",
        metavar="IMAGE",
        help="image files, folders (their image files, sorted) or quoted glob patterns",
    )
    parser.add_argument(
        "--recursive", action="store_true", help="also read images in sub-folders of a folder"
    )
    parser.add_argument(
        "--format",
        choices=["csv", "json", "parquet"],
        default=None,
        help="output table format (json: JSON Lines, one record per image); None: from "
        "--out's suffix, else csv",
    )
    parser.add_argument(
        "--upsample", type=_int_at_least(0), default=0, help="detector upsampling (small faces)"
    )
    _add_backend_options(parser)
    _add_common(parser, "joblib cache for landmarks (keyed by file contents)")


def _add_backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--detector",
        choices=["hog", "cnn"],
        default="hog",
        help="dlib face detector: hog (fast) or cnn (finds turned and small faces, ~60x slower)",
    )
    parser.add_argument(
        "--tddfa",
        nargs=3,
        default=None,
        metavar=("CHECKPOINT", "NORMALIZATION", "BFM_FOLDER"),
        help="landmarks from the learned 3DDFA_V2 back end (turned faces, docs/turned_faces.md): "
        "mb05_120x120.pth, param_mean_std_62d_120x120.pkl and 3DDFA's BFM folder; "
        "None: dlib's 68-point predictor",
    )


def _backend(args: argparse.Namespace, upsample: int) -> Any:
    """The face back end the options ask for, its files read now (a bad file fails first)."""
    if args.tddfa is not None:
        from sk3dface import TDDFABackend

        checkpoint, normalization, model = args.tddfa
        return TDDFABackend(
            checkpoint, normalization, model, detector=args.detector, upsample=upsample
        ).load()
    from sk3dface import DlibBackend

    return DlibBackend(detector=args.detector, upsample=upsample).load()


def _build_parser() -> argparse.ArgumentParser:
    from sk3dface import __version__
    from sk3dface.protocols import TASKS

    parser = argparse.ArgumentParser(
        prog="sk3dface",
        description="Face classification from 3D Morphable Model coefficients.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sk3dface {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = {"formatter_class": argparse.ArgumentDefaultsHelpFormatter}

    demo = commands.add_parser("demo", help="end-to-end demo on built-in data", **defaults)
    demo.add_argument("--out", default="demo_output", help="folder for the table and plots")
    demo.add_argument("--quick", action="store_true", help="smaller data and models (~1 min)")
    demo.add_argument("--random-state", type=_int_at_least(0), default=0)
    _add_common(demo, "joblib cache for Pipeline(memory=...)")

    landmarks = commands.add_parser(
        "landmarks", help="detect 68 landmarks, write them as CSV", **defaults
    )
    landmarks.add_argument(
        "--out", default=None, help="output file; None or '-' writes to standard output"
    )
    landmarks.add_argument("--plot", default=None, metavar="DIR", help="save overlays as PNG")
    _add_landmarker_options(landmarks)

    fit = commands.add_parser(
        "fit", help="fit a morphable model to images, write coefficients", **defaults
    )
    fit.add_argument("--model", default="default", help="model file or 'default'")
    fit.add_argument(
        "--out", required=True, help="file for the coefficients; '-' = standard output"
    )
    fit.add_argument(
        "--view-set",
        action="store_true",
        help="treat all images as views of one person (joint fit, one row)",
    )
    _add_landmarker_options(fit)

    evaluate = commands.add_parser(
        "evaluate", help="run a paper protocol on KDEF or FEI", **defaults
    )
    evaluate.add_argument("dataset", choices=sorted(TASKS))
    evaluate.add_argument("root", help="folder holding the data set")
    evaluate.add_argument(
        "--task", required=True, choices=sorted({t for ts in TASKS.values() for t in ts})
    )
    evaluate.add_argument("--model", default="default", help="model file or 'default'")
    evaluate.add_argument("--classifier", default="resnet", choices=["resnet", "svc"])
    evaluate.add_argument(
        "--features",
        default="3d",
        choices=["3d", "paper"],
        help="3d: the recommended FrontalShape pipeline; paper: 3DMM coefficients",
    )
    evaluate.add_argument(
        "--n-splits", type=_int_at_least(2), default=5, help="cross-validation folds"
    )
    evaluate.add_argument(
        "--gender-table", default=None, help="CSV with columns subject,gender (FEI gender)"
    )
    evaluate.add_argument("--max-epochs", type=_int_at_least(1), default=None)
    evaluate.add_argument(
        "--upsample", type=_int_at_least(0), default=0, help="detector upsampling (small faces)"
    )
    _add_backend_options(evaluate)
    evaluate.add_argument("--random-state", type=_int_at_least(0), default=0)
    evaluate.add_argument(
        "--out", default=None, help="JSON report file (per-fold and per-class results)"
    )
    evaluate.add_argument(
        "--plot",
        default=None,
        metavar="FILE",
        help="save the confusion matrix of the out-of-fold predictions (e.g. cm.png)",
    )
    _add_common(evaluate, "joblib cache for landmarks and fits")
    return parser


def _check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Combinations argparse cannot check itself; exit 2 like argparse."""
    if args.command != "evaluate":
        return
    from sk3dface.protocols import TASKS

    if args.task not in TASKS[args.dataset]:
        parser.error(
            f"--task {args.task} is not available for {args.dataset}; "
            f"choose {' or '.join(TASKS[args.dataset])}"
        )
    if args.gender_table is not None and args.dataset != "fei":
        parser.error("--gender-table only applies to fei")


def _check_out_file(path: str | None, option: str) -> None:
    """Fail now, before any work, if the output file ``path`` cannot be created or written.

    The file is opened for appending (an existing file is left as it is) and removed again if
    this check created it.
    """
    if path is None or path == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise CommandError(
            f"cannot write {option} {path}: it is an existing folder; pass a file name "
            "such as out.csv"
        )
    parent = target.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise CommandError(f"cannot write {option} {path}: folder {parent} {what}")
    existed = target.exists()
    try:
        with open(target, "a"):
            pass
    except OSError as error:
        raise CommandError(
            f"cannot write {option} {path}: cannot create a file in {parent} "
            f"({error.strerror or error}); pass a file in a folder you can write to"
        ) from None
    if not existed:
        target.unlink(missing_ok=True)


def _check_out_folder(path: str | None, option: str) -> None:
    """Create the output folder ``path`` now and check that files can be written in it."""
    if path is None:
        return
    import tempfile

    target = Path(path)
    if target.exists() and not target.is_dir():
        raise CommandError(
            f"cannot use {option} {path}: it is an existing file, not a folder; pass a folder "
            "path (it is created if missing)"
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=target):
            pass
    except OSError as error:
        if isinstance(error, (FileExistsError, NotADirectoryError)):
            reason = "part of the path is an existing file, not a folder"
        else:
            reason = error.strerror or str(error)
        raise CommandError(
            f"cannot create or write {option} {path}: {reason}; pass a folder you can write to"
        ) from None


def _check_outputs(args: argparse.Namespace) -> None:
    """Check every output of the command before any image is read or model loaded."""
    if args.command in ("landmarks", "fit", "evaluate"):
        _check_out_file(args.out, "--out")
    if args.command in ("landmarks", "fit"):
        args.format = _table_format(args)
    if args.command == "landmarks":
        _check_out_folder(args.plot, "--plot")
    if args.command == "evaluate":
        _check_out_file(args.plot, "--plot")
    if args.command == "demo":
        _check_out_folder(args.out, "--out")
    _check_out_folder(args.cache_dir, "--cache-dir")


_SUFFIX_FORMATS = {".json": "json", ".jsonl": "json", ".ndjson": "json", ".parquet": "parquet"}


def _table_format(args: argparse.Namespace) -> str:
    """``--format``, or the one ``--out``'s suffix names (csv otherwise); checked up front."""
    out = args.out
    to_file = out not in (None, "-")
    chosen = args.format or (_SUFFIX_FORMATS.get(Path(out).suffix.lower()) if to_file else None)
    chosen = chosen or "csv"
    if chosen == "parquet":
        if not to_file:
            raise CommandError(
                "--format parquet is binary and cannot go to standard output; pass --out FILE"
            )
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise CommandError("--format parquet needs the pyarrow package: pip install pyarrow")
    return chosen


def _expand_images(arguments: Sequence[str], recursive: bool) -> list[str]:
    """Image paths from files, folders (image files inside, sorted) and glob patterns.

    A plain path that does not exist is kept, so it gets its row and its error like any
    failed image; a folder without images or a pattern matching nothing is an error.
    """
    import glob

    from sk3dface.datasets._common import IMAGE_EXTENSIONS

    images: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = sorted(
                str(p)
                for p in (path.rglob("*") if recursive else path.iterdir())
                if p.is_file()
                and p.suffix.lower() in IMAGE_EXTENSIONS
                and not p.name.startswith(".")
            )
            if not found:
                raise CommandError(
                    f"folder {argument} holds no image files "
                    f"({', '.join(sorted(IMAGE_EXTENSIONS))})"
                    + ("" if recursive else "; pass --recursive to look in its sub-folders")
                )
            images.extend(found)
        elif not path.exists() and glob.has_magic(argument):
            found = sorted(p for p in glob.glob(argument, recursive=True) if Path(p).is_file())
            if not found:
                raise CommandError(f"pattern {argument!r} matches no file")
            images.extend(found)
        else:
            images.append(argument)
    return images


def _write_table(frame: Any, args: argparse.Namespace, float_format: str) -> None:
    """Write ``frame`` to ``--out`` (``-`` or None: standard output) as ``args.format``."""
    target = sys.stdout if args.out in (None, "-") else args.out
    if args.format == "json":
        frame.to_json(target, orient="records", lines=True)
        if target is sys.stdout:
            sys.stdout.write("\n")
    elif args.format == "parquet":
        frame.to_parquet(target, index=False)
    else:
        frame.to_csv(target, index=False, float_format=float_format)


def _detect(args: argparse.Namespace, images: list[str]) -> tuple[Any, int]:
    """Landmarks of every image (NaN rows for failures, each named on standard error)."""
    from sk3dface import FaceLandmarker
    from sk3dface.protocols import landmark_table
    from sk3dface.utils._failures import collect_failures

    landmarker = FaceLandmarker(
        _backend(args, args.upsample), n_jobs=args.n_jobs, verbose=args.verbose
    )
    with collect_failures() as failures:
        points = landmark_table(images, landmarker, args.cache_dir)
    for failure in failures:
        print(
            f"sk3dface {args.command}: {images[failure.sample]}: {failure.error}", file=sys.stderr
        )
    if len(failures) == len(images):
        raise CommandError(f"none of the {len(images)} image(s) gave landmarks (see above)")
    return points, len(failures)


def _partial(args: argparse.Namespace, n_failed: int, n_images: int) -> int:
    if not n_failed:
        return 0
    print(
        f"sk3dface {args.command}: {n_failed} of {n_images} image(s) gave no landmarks; "
        "their cells are empty",
        file=sys.stderr,
    )
    return 1


def _landmarks(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from sk3dface._layout import landmark_names

    images = _expand_images(args.images, args.recursive)
    points, n_failed = _detect(args, images)
    frame = pd.DataFrame(points, columns=landmark_names())
    frame.insert(0, "image", images)
    _write_table(frame.round(2), args, float_format="%.2f")
    if args.plot:
        from sk3dface.plotting import save_landmark_overlay

        out = Path(args.plot)
        out.mkdir(parents=True, exist_ok=True)
        used: set[str] = set()
        for i, (image, row) in enumerate(zip(images, points, strict=True)):
            if np.isnan(row).all():  # no landmarks: nothing to draw
                continue
            name = Path(image).stem
            name = name if name not in used else f"{name}_{i}"  # same name, other folder
            used.add(name)
            save_landmark_overlay(image, row, out / f"{name}.png")
    return _partial(args, n_failed, len(images))


def _fit(args: argparse.Namespace) -> int:
    import pandas as pd

    from sk3dface import MorphableCoefficientExtractor
    from sk3dface.models.io import load_landmark_model

    model = load_landmark_model(args.model)  # a bad model file fails before any image is read
    images = _expand_images(args.images, args.recursive)
    points, n_failed = _detect(args, images)
    if args.view_set:
        points = points.reshape(1, -1)  # view blocks side by side: one sample
    extractor = MorphableCoefficientExtractor(
        model=model, multiview="joint" if args.view_set else "independent"
    )
    coefficients = extractor.fit_transform(points)
    frame = pd.DataFrame(coefficients, columns=extractor.get_feature_names_out())
    frame.insert(0, "image", [";".join(images)] if args.view_set else images)
    _write_table(frame, args, float_format="%.6g")
    if args.out != "-":
        print(f"wrote {len(frame)} row(s) x {coefficients.shape[1]} coefficients to {args.out}")
    return _partial(args, n_failed, len(images))


def _evaluate(args: argparse.Namespace) -> int:
    from sk3dface.protocols import run_protocol

    if not Path(args.root).is_dir():
        raise CommandError(f"data set root {args.root!r} is not a folder")
    default_faces = args.tddfa is None and args.detector == "hog" and args.upsample == 0
    report = run_protocol(
        args.dataset,
        args.root,
        task=args.task,
        backend=None if default_faces else _backend(args, args.upsample),
        model=args.model,
        classifier=args.classifier,
        features=args.features,
        n_splits=args.n_splits,
        max_epochs=args.max_epochs,
        gender_table=args.gender_table,
        random_state=args.random_state,
        **_common_options(args),
    )
    if args.out != "-":  # with --out -, standard output is the JSON report alone
        print(report.to_text())
    if args.out is not None:
        import json

        text = json.dumps(report.to_dict(), indent=2, default=_json_default)
        if args.out == "-":
            print(text)
        else:
            Path(args.out).write_text(text + "\n")
    if args.plot:
        from matplotlib.figure import Figure

        from sk3dface.plotting import _confusion_figsize

        # a bare Figure, not pyplot: no window and no backend choice in a command
        figure = Figure(figsize=_confusion_figsize(len(report.per_class)), layout="constrained")
        report.plot_confusion_matrix(ax=figure.subplots())
        figure.savefig(args.plot, dpi=100)
        where = sys.stderr if args.out == "-" else sys.stdout  # keep a JSON stdout clean
        print(f"saved the confusion matrix to {args.plot}", file=where)
    return 0


def _json_default(value: Any) -> Any:
    """numpy scalars (labels, counts) as plain Python values."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _demo(args: argparse.Namespace) -> int:
    from sk3dface.protocols._demo import run_demo

    run_demo(
        out=args.out, quick=args.quick, random_state=args.random_state, **_common_options(args)
    )
    return 0


COMMANDS = {"demo": _demo, "landmarks": _landmarks, "fit": _fit, "evaluate": _evaluate}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sk3dface`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    exit_code : int
        0 success, 1 a data or model problem, 130 interrupted (bad arguments exit with
        status 2 through ``SystemExit``, as argparse does).

    Examples
    --------
    >>> from sk3dface.cli import main
    >>> main(["evaluate", "kdef", "/no/such/folder", "--task", "identity"])
    1
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    _check_arguments(parser, args)
    if not hasattr(args, "quiet"):
        args.quiet = False
    try:
        with _terminal_output(args):
            _check_outputs(args)
            return COMMANDS[args.command](args)
    except (CommandError, ValueError, OSError) as error:
        print(f"sk3dface {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"sk3dface {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
