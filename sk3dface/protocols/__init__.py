"""The paper's three experiments as ready-made, leakage-free protocols.

Each ``*_protocol`` function turns a data set (a folder or a loaded Bunch) into a
:class:`Protocol`: the samples (view sets of image paths), their labels, a cross-validation
splitter that never puts one image (identity) or one person (expression, gender) on both
sides of a split, and the full scikit-learn pipeline from images to labels.
:func:`evaluate_protocol` runs it; :func:`run_protocol` does both, for the command line.

==========  ========  ==========================  ========================================
task        data set  samples                     folds
==========  ========  ==========================  ========================================
identity    KDEF      3-image view sets, 10 ppl   disjoint image parts of each person
expression  KDEF      single images               subject-disjoint (StratifiedGroupKFold)
gender      FEI       3-image view sets           subject-disjoint (StratifiedGroupKFold)
==========  ========  ==========================  ========================================
"""

from sk3dface.protocols._evaluation import (
    ProtocolReport,
    evaluate_protocol,
    landmark_table,
    run_protocol,
)
from sk3dface.protocols._pipelines import make_classifier, make_coefficient_pipeline, make_pipeline
from sk3dface.protocols._task_pipeline import make_task_pipeline
from sk3dface.protocols._tasks import (
    FEI_POSES,
    KDEF_ANGLES,
    PROTOCOLS,
    TASKS,
    Protocol,
    expression_protocol,
    gender_protocol,
    identity_protocol,
)

__all__ = [
    "FEI_POSES",
    "KDEF_ANGLES",
    "PROTOCOLS",
    "TASKS",
    "Protocol",
    "ProtocolReport",
    "evaluate_protocol",
    "expression_protocol",
    "gender_protocol",
    "identity_protocol",
    "landmark_table",
    "make_classifier",
    "make_coefficient_pipeline",
    "make_pipeline",
    "make_task_pipeline",
    "run_protocol",
]
