"""churn-core: the bank-churn model every serving path calls."""

from churn_core.bundle import BundleError
from churn_core.predictor import Prediction, Predictor
from churn_core.schema import FEATURE_NAMES, FEATURES, Customer, InvalidCustomerError

__all__ = [
    "FEATURES",
    "FEATURE_NAMES",
    "BundleError",
    "Customer",
    "InvalidCustomerError",
    "Prediction",
    "Predictor",
]
