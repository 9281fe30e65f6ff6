"""The images -> coefficients -> classifier pipelines behind the protocols."""

from __future__ import annotations

from typing import Any

from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sk3dface.models.io import load_landmark_model
from sk3dface.utils._warnings import warn_at_caller


def make_classifier(name: str, *, depth: int, max_epochs: int | None, random_state: int) -> Any:
    """The protocol's classifier: ``"resnet"`` (ResNetClassifier) or ``"svc"`` (RBF SVC).

    Parameters
    ----------
    name : {"resnet", "svc"}
        Which classifier.
    depth : int
        ResNet depth (34 or 32 in the paper); ignored for ``"svc"``.
    max_epochs : int or None
        ResNet training length; None keeps the ResNet's default.
    random_state : int
        Seed.

    Returns
    -------
    classifier : estimator
        Unfitted.

    Examples
    --------
    >>> from sk3dface.protocols import make_classifier
    >>> make_classifier("svc", depth=34, max_epochs=None, random_state=0)
    SVC(C=10.0, random_state=0)
    """
    if name == "svc":
        from sklearn.svm import SVC

        return SVC(C=10.0, random_state=random_state)
    if name != "resnet":
        raise ValueError(f"classifier must be 'resnet' or 'svc'; got {name!r}.")
    from sk3dface.classifiers import ResNetClassifier

    kwargs = {} if max_epochs is None else {"max_epochs": max_epochs}
    return ResNetClassifier(depth=depth, random_state=random_state, **kwargs)


def make_coefficient_pipeline(
    coefficients: str,
    *,
    multiview: str,
    classifier: Any,
    model: Any = "default",
    n_jobs: int | None = None,
    memory: Any = None,
    backend: Any = None,
) -> Pipeline:
    """The paper's pipeline from images (or view sets) to labels.

    Parameters
    ----------
    coefficients : {"alpha", "beta", "both"}
        Which coefficients the classifier sees (identity: alpha; expression: beta).
    multiview : {"independent", "joint"}
        Fitting mode of the extractor (joint: one alpha per view set).
    classifier : estimator
        Any scikit-learn classifier.
    model : MorphableModel, path or "default"
        The morphable model. A name or path is read here (so a bad file fails at once)
        and cut to its 68 landmark vertices, all the fit uses.
    n_jobs : int, optional
        Parallel jobs of the landmarker.
    memory : str, joblib.Memory or None
        ``Pipeline(memory=...)`` cache.
    backend : LandmarkBackend, optional
        The landmarker's detector + landmark back end (None: dlib's HOG detector and
        68-point predictor), e.g. :class:`~sk3dface.TDDFABackend` for turned faces.

    Returns
    -------
    pipeline : Pipeline
        With ``set_output(transform="pandas")``: the extractor's column names tell the
        aggregator and selector which columns are alpha, beta and pose.

    Examples
    --------
    >>> from sklearn.svm import SVC
    >>> from sk3dface.protocols import make_coefficient_pipeline
    >>> make_coefficient_pipeline("alpha", multiview="joint", classifier=SVC()).steps[1][0]
    'extractor'
    """
    from sk3dface.fitting import (
        CoefficientSelector,
        MorphableCoefficientExtractor,
        MultiViewAggregator,
    )
    from sk3dface.landmarks import FaceLandmarker

    extractor = MorphableCoefficientExtractor(model=load_landmark_model(model), multiview=multiview)
    return Pipeline(
        [
            ("landmarker", FaceLandmarker(backend, n_jobs=n_jobs)),
            ("extractor", extractor),
            ("aggregator", MultiViewAggregator(method="mean")),
            ("selector", CoefficientSelector(coefficients)),
            ("scaler", StandardScaler()),
            ("classifier", classifier),
        ],
        memory=memory,
    ).set_output(transform="pandas")  # column names carry the coefficient layout


def _pipeline(
    coefficients: str,
    multiview: str,
    depth: int,
    classifier: str | Any,
    model: Any,
    max_epochs: int | None,
    n_jobs: int | None,
    random_state: int,
    backend: Any,
) -> Pipeline:
    """A protocol's pipeline; ``classifier``: a :func:`make_classifier` name or an estimator."""
    if isinstance(classifier, str):
        classifier = make_classifier(
            classifier, depth=depth, max_epochs=max_epochs, random_state=random_state
        )
    return make_coefficient_pipeline(
        coefficients,
        multiview=multiview,
        classifier=classifier,
        model=model,
        n_jobs=n_jobs,
        backend=backend,
    )


def _task_pipeline(
    task: str,
    classifier: str | Any,
    model: Any,
    max_epochs: int | None,
    n_jobs: int | None,
    random_state: int,
    backend: Any,
) -> Pipeline:
    """A protocol's recommended pipeline (:func:`make_task_pipeline`, ``features="3d"``)."""
    from sk3dface.protocols._task_pipeline import make_task_pipeline

    pipeline = make_task_pipeline(
        task,
        classifier=classifier,
        model=model,
        backend=backend,
        n_jobs=n_jobs,
        random_state=random_state,
    )
    if max_epochs is not None and classifier == "resnet":
        pipeline.set_params(classifier__resnet__max_epochs=max_epochs)
    return pipeline


def make_pipeline(*args: Any, **kwargs: Any) -> Pipeline:
    """Deprecated alias of :func:`make_coefficient_pipeline` (it shadowed scikit-learn's name).

    .. deprecated:: 0.2
        Use :func:`make_coefficient_pipeline`; this alias will be removed in 0.4.

    Parameters
    ----------
    *args, **kwargs
        Passed to :func:`make_coefficient_pipeline`.

    Returns
    -------
    pipeline : Pipeline

    Examples
    --------
    >>> import warnings
    >>> from sklearn.svm import SVC
    >>> from sk3dface.protocols import make_pipeline
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     pipeline = make_pipeline("alpha", multiview="joint", classifier=SVC())
    >>> caught[0].category.__name__, pipeline.steps[1][0]
    ('FutureWarning', 'extractor')
    """
    warn_at_caller(
        "sk3dface.protocols.make_pipeline is deprecated since 0.2 and will be removed in 0.4; "
        "use sk3dface.protocols.make_coefficient_pipeline (the old name shadowed "
        "sklearn.pipeline.make_pipeline).",
        FutureWarning,
    )
    return make_coefficient_pipeline(*args, **kwargs)
