"""make_task_pipeline: the recommended pipeline per task, chosen by measurement on real photos.

The choices (``docs/real_data.md`` has the numbers and what else was tried):

- 3-D features: :class:`~sk3dface.FrontalShape` — the observed landmarks with the fitted
  pose removed and, for identity and gender, the fitted expression (identity prior
  ``alpha_reg=10``), for expression the fitted identity (default priors). The model's
  coefficients alone carried less than the raw landmarks.
- 2-D features: dlib's 128-d face descriptors (:class:`~sk3dface.FaceEmbedder`).
- Fusion: ``"fused"`` is intermediate fusion (per-block standardised features side by side,
  scikit-learn's ``ColumnTransformer``), ``"late"`` averages the probabilities of one
  classifier per modality (scikit-learn's ``VotingClassifier``). Detection runs once per
  image in both: the embedder returns the landmarks of the same detection.
- Classifier: shrinkage LDA (``LinearDiscriminantAnalysis(solver="lsqr",
  shrinkage="auto")``), best or within 1.3 points of the best in every measured cell and
  the fastest; ``"resnet"`` is the paper's ResNet-34 (identity, gender) or ResNet-32
  (expression).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from sk3dface.embeddings._dlib_descriptor import N_EMBEDDING
from sk3dface.utils._cache import resolve_landmark_memory

TASKS_3D = {"identity": "identity", "gender": "identity", "expression": "expression"}
FEATURES = ("3d", "2d", "fused", "late")
CLASSIFIERS = ("lda", "logreg", "svc", "resnet")
#: weights of the 2-D block tried by ``fusion_weights="cv"`` (the 3-D block's is 1)
FUSION_WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0)
#: identity prior of the fit for each task's 3-D features (measured on training folds)
_ALPHA_REG = {"identity": 10.0, "gender": 10.0, "expression": 1.0}
_RESNET_DEPTH = {"identity": 34, "gender": 34, "expression": 32}


def landmark_columns(X: Any) -> np.ndarray:
    """Columns of FaceEmbedder(include_landmarks=True) output holding landmarks."""
    return np.arange(np.shape(X)[1] - N_EMBEDDING)


def embedding_columns(X: Any) -> np.ndarray:
    """Columns of FaceEmbedder(include_landmarks=True) output holding the descriptor."""
    n_columns = np.shape(X)[1]
    return np.arange(n_columns - N_EMBEDDING, n_columns)


def _classifier(name: Any, task: str, random_state: int | None) -> Any:
    """A classifier by name (with its scaler when it needs one), or the estimator given."""
    from sklearn.preprocessing import StandardScaler

    if not isinstance(name, str):
        return name
    if name == "lda":
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression

        return Pipeline(
            [("scaler", StandardScaler()), ("logreg", LogisticRegression(C=1.0, max_iter=3000))]
        )
    if name == "svc":
        from sklearn.svm import SVC

        return Pipeline([("scaler", StandardScaler()), ("svc", SVC(C=10.0))])
    if name == "resnet":
        from sk3dface.classifiers import ResNetClassifier

        resnet = ResNetClassifier(depth=_RESNET_DEPTH[task], random_state=random_state)
        return Pipeline([("scaler", StandardScaler()), ("resnet", resnet)])
    raise ValueError(
        f"classifier must be None, one of {CLASSIFIERS} or a scikit-learn classifier; got {name!r}."
    )


def _shape(task: str, model: Any) -> Any:
    from sk3dface.fitting import FrontalShape, MorphableCoefficientExtractor
    from sk3dface.models.io import load_landmark_model

    extractor = MorphableCoefficientExtractor(
        model=load_landmark_model(model), alpha_reg=_ALPHA_REG[task]
    )
    return FrontalShape(TASKS_3D[task], extractor=extractor)


def make_task_pipeline(
    task: str,
    *,
    features: str = "3d",
    classifier: Any = None,
    model: Any = "default",
    fusion_weights: Any = None,
    fusion_cv: Any = 5,
    memory: Any = "auto",
    backend: Any = None,
    n_jobs: int | None = None,
    random_state: int | None = 0,
) -> Pipeline:
    """The recommended, unfitted pipeline from images (or view sets) to labels for a task.

    Parameters
    ----------
    task : {"identity", "expression", "gender"}
        What to predict.
    features : {"3d", "2d", "fused", "late"}, default="3d"
        ``"3d"``: :class:`~sk3dface.FrontalShape` of the 68 landmarks (first step
        :class:`~sk3dface.FaceLandmarker`, so ``pipe[1:]`` takes landmark arrays).
        ``"2d"``: dlib's face descriptors (first step :class:`~sk3dface.FaceEmbedder`).
        ``"fused"``: both, standardised per block and concatenated into one classifier
        (``ColumnTransformer``; block weights as ``features__transformer_weights``).
        ``"late"``: one classifier per block, their probabilities averaged
        (``VotingClassifier(voting="soft")``; weights as ``classifier__weights``; no
        inner cross-validation, so no person leaks between the blocks' training data).
        For both fusions the first step is ``FaceEmbedder(include_landmarks=True)``: one
        detection per image.
    classifier : None, {"lda", "logreg", "svc", "resnet"} or estimator, default=None
        None: shrinkage LDA (the measured best). ``"resnet"``: the paper's ResNet-34 for
        identity and gender, ResNet-32 for expression, after a ``StandardScaler``. An
        estimator is used as given (for ``"late"``: for each block).
    model : MorphableModel, path or "default", default="default"
        The morphable model of the 3-D fit (read now, so a bad file fails here).
    fusion_weights : None, dict or "cv", default=None
        Block weights of ``"fused"`` and ``"late"``. None: equal. A dict such as
        ``{"3d": 1.0, "2d": 0.25}``: fixed. ``"cv"``: the 2-D block's weight (3-D: 1) is
        chosen from ``FUSION_WEIGHT_GRID`` (0 drops the 2-D block) at every fit by a grouped inner
        cross-validation on the training data only (scikit-learn's ``GridSearchCV`` with
        ``GroupKFold``); the pipeline then needs the groups (the person for expression and
        gender, the expression or session for identity) as ``fit(X, y,
        fusion__groups=groups)``, or ``params={"fusion__groups": groups}`` in
        ``cross_val_score``. Use it when one block may be weak on your data.
    fusion_cv : int or cross-validation splitter, default=5
        Inner folds of ``fusion_weights="cv"``; an int means ``GroupKFold(fusion_cv)``.
    memory : "auto", str, joblib.Memory or None, default="auto"
        The content-keyed cache of the first step (``FaceLandmarker(memory=...)`` or
        ``FaceEmbedder(memory=...)``), so that each image is detected once per landmarker
        setting across folds, grid-search candidates and refits. ``"auto"``: a temporary
        folder shared by every pipeline of this Python process and removed when it exits
        (the pipeline holds its path; parallel workers share it). A path or a
        :class:`joblib.Memory` keeps the landmarks between sessions. ``None`` turns the
        cache off: every ``fit`` and ``transform`` detects again.
    backend : LandmarkBackend, optional
        The first step's face detector + landmark back end (``FaceLandmarker(backend)`` or
        ``FaceEmbedder(backend)``); None: dlib's HOG detector and 68-point predictor. For
        turned faces pass :class:`~sk3dface.TDDFABackend` (see ``docs/turned_faces.md``).
    n_jobs : int, optional
        Parallel jobs of the landmarker / embedder.
    random_state : int or None, default=0
        Seed of the ResNet.

    Returns
    -------
    pipeline : Pipeline
        Unfitted; ``pipeline.steps[0]`` reads the images.

    Examples
    --------
    >>> from sk3dface.protocols import make_task_pipeline
    >>> pipe = make_task_pipeline("identity")
    >>> [name for name, _ in pipe.steps]
    ['landmarker', 'shape', 'classifier']
    >>> [name for name, _ in make_task_pipeline("gender", features="fused").steps]
    ['faces', 'features', 'classifier']
    >>> tuned = make_task_pipeline("expression", features="fused", fusion_weights="cv")
    >>> [name for name, _ in tuned.steps]
    ['faces', 'fusion']
    >>> make_task_pipeline("identity", memory=None).named_steps["landmarker"].memory is None
    True
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import StandardScaler

    from sk3dface.embeddings import FaceEmbedder
    from sk3dface.landmarks import FaceLandmarker

    if task not in TASKS_3D:
        raise ValueError(f"task must be one of {sorted(TASKS_3D)}; got {task!r}.")
    if features not in FEATURES:
        raise ValueError(f"features must be one of {FEATURES}; got {features!r}.")
    if fusion_weights is not None and features not in ("fused", "late"):
        raise ValueError(
            f"fusion_weights applies to features='fused' or 'late'; got features={features!r}."
        )
    if not (fusion_weights in (None, "cv") or isinstance(fusion_weights, dict)):
        raise ValueError(
            "fusion_weights must be None, 'cv' or a dict of block weights such as "
            f"{{'3d': 1.0, '2d': 0.25}}; got {fusion_weights!r}."
        )
    if isinstance(fusion_weights, dict) and set(fusion_weights) != {"3d", "2d"}:
        raise ValueError(
            f"fusion_weights needs a weight for each block '3d' and '2d'; got {fusion_weights!r}."
        )
    name = "lda" if classifier is None else classifier
    memory = resolve_landmark_memory(memory)
    if features == "3d":
        return Pipeline(
            [
                ("landmarker", FaceLandmarker(backend, memory=memory, n_jobs=n_jobs)),
                ("shape", _shape(task, model)),
                ("classifier", _classifier(name, task, random_state)),
            ]
        )
    if features == "2d":
        return Pipeline(
            [
                ("embedder", FaceEmbedder(backend, memory=memory, n_jobs=n_jobs)),
                ("classifier", _classifier(name, task, random_state)),
            ]
        )
    faces = FaceEmbedder(backend, include_landmarks=True, memory=memory, n_jobs=n_jobs)
    shape_block = Pipeline([("shape", _shape(task, model)), ("scaler", StandardScaler())])
    if features == "fused":
        blocks = ColumnTransformer(
            [("3d", shape_block, landmark_columns), ("2d", StandardScaler(), embedding_columns)],
            transformer_weights=fusion_weights if isinstance(fusion_weights, dict) else None,
        )
        fusion = [("features", blocks), ("classifier", _classifier(name, task, random_state))]
        weights_param = "features__transformer_weights"
    else:
        fusion = [("classifier", _late_fusion(shape_block, name, task, random_state))]
        if isinstance(fusion_weights, dict):
            fusion[0][1].set_params(weights=[fusion_weights["3d"], fusion_weights["2d"]])
        weights_param = "classifier__weights"
    if fusion_weights != "cv":
        return Pipeline([("faces", faces), *fusion])
    return Pipeline(
        [("faces", faces), ("fusion", _weight_search(Pipeline(fusion), weights_param, fusion_cv))]
    )


def _late_fusion(shape_block: Pipeline, name: Any, task: str, random_state: int | None) -> Any:
    """One classifier per block, their probabilities averaged."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import VotingClassifier
    from sklearn.preprocessing import StandardScaler

    blocks = {"3d": (shape_block, landmark_columns), "2d": (StandardScaler(), embedding_columns)}
    return VotingClassifier(
        [
            (
                block,
                Pipeline(
                    [
                        ("select", ColumnTransformer([(block, transformer, columns)])),
                        ("classifier", _classifier(name, task, random_state)),
                    ]
                ),
            )
            for block, (transformer, columns) in blocks.items()
        ],
        voting="soft",
    )


def _weight_search(fusion: Pipeline, weights_param: str, fusion_cv: Any) -> Any:
    """GridSearchCV over the 2-D block's weight, on grouped inner folds of the training data.

    Weight 0 drops the block (rather than zeroing its columns), so that candidate is exactly
    the 3-D recipe.
    """
    from sklearn.model_selection import GridSearchCV, GroupKFold

    block = weights_param.split("__")[0]
    weights = [w for w in FUSION_WEIGHT_GRID if w > 0]
    if block == "features":
        weighted = [{"3d": 1.0, "2d": w} for w in weights]
    else:
        weighted = [[1.0, w] for w in weights]
    grid = [{weights_param: weighted}]
    if 0 in FUSION_WEIGHT_GRID:
        grid.insert(0, {f"{block}__2d": ["drop"]})
    cv = GroupKFold(fusion_cv) if isinstance(fusion_cv, int) else fusion_cv
    return GridSearchCV(fusion, grid, cv=cv)
