"""scikit-learn estimators on chainrule: ``MLPClassifier`` and ``MLPRegressor`` (needs ``chainrule[sklearn]``)."""

from ._base import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
