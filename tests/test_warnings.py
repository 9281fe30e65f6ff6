"""Warnings name the user's line, however deep inside sk3dface and scikit-learn they start."""

import warnings

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk3dface import MorphableCoefficientExtractor, make_default_model
from sk3dface.exceptions import FailedSamplesWarning
from sk3dface.utils._warnings import caller_stacklevel, warn_at_caller


def _landmarks_with_a_nan_row():
    model = make_default_model()
    points = np.tile(model.landmarks(np.zeros((1, model.n_alpha)))[..., :2].reshape(1, -1), (3, 1))
    points[1] = np.nan
    return points


def _warnings_of(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [w for w in caught if issubclass(w.category, FailedSamplesWarning)]


@pytest.mark.parametrize(
    "how",
    ["transform", "fit_transform", "set_output pandas", "Pipeline.fit_transform pandas"],
)
def test_failed_samples_warning_points_at_this_file(how):
    X = _landmarks_with_a_nan_row()
    extractor = MorphableCoefficientExtractor(n_iter=2)
    if how == "transform":
        call = lambda: extractor.fit(X[[0, 2]]).transform(X)  # noqa: E731
    elif how == "fit_transform":
        call = lambda: extractor.fit_transform(X)  # noqa: E731
    elif how == "set_output pandas":
        call = lambda: extractor.set_output(transform="pandas").fit_transform(X)  # noqa: E731
    else:
        pipeline = make_pipeline(extractor, StandardScaler()).set_output(transform="pandas")
        call = lambda: pipeline.fit_transform(X)  # noqa: E731
    caught = _warnings_of(call)
    assert caught, "the NaN row must be warned about"
    assert {w.filename for w in caught} == {__file__}


def test_caller_stacklevel_skips_library_frames_only():
    def user_function():
        return caller_stacklevel()

    assert user_function() == 1  # this test module is the user's: no frame skipped

    library = {"__name__": "sklearn.fake", "caller_stacklevel": caller_stacklevel}
    exec("def inner():\n    return caller_stacklevel()\ndef outer():\n    return inner()", library)
    assert library["outer"]() == 3  # inner and outer are library frames: this line is level 3


def test_warn_at_caller_from_user_code_names_the_calling_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_at_caller("careful", RuntimeWarning)
    assert caught[0].filename == __file__ and caught[0].category is RuntimeWarning
