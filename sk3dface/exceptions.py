"""Exceptions and warnings raised by sk3dface.

All errors derive from :class:`ValueError` so that code written for
scikit-learn's input validation keeps catching them.
"""

from __future__ import annotations

__all__ = [
    "FaceNotFoundError",
    "FailedSamplesWarning",
    "ImageReadError",
    "ModelFormatError",
    "TrainingDivergedError",
    "UnsafePickleError",
]


class ImageReadError(ValueError):
    """An image could not be read: missing, empty, corrupt, too large or of an unknown type."""


class FaceNotFoundError(ValueError):
    """No face was detected in an image."""


class ModelFormatError(ValueError):
    """A morphable-model file is of an unknown format or is inconsistent."""


class UnsafePickleError(ModelFormatError):
    """A pickle tried to import something other than numpy arrays and plain containers."""


class FailedSamplesWarning(UserWarning):
    """Some samples or views failed and were returned as NaN (see ``on_error``)."""


class TrainingDivergedError(ValueError, FloatingPointError):
    """Training of a network diverged: its loss or weights became NaN or infinite.

    Usually the learning rate ``lr`` is too large; the classifier is left unfitted.
    """
