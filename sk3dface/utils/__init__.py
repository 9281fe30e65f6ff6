"""Utilities every layer shares: image and view-set input, failure reporting, parallel map,
safe unpickling and the scikit-learn private imports (``_sklearn_compat``)."""
