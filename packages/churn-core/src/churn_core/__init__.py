"""churn-core: the bank-churn model every serving path calls."""

import os

# LightGBM's OpenMP threads spin while they wait by default. On a busy 2-core machine or pod that
# spinning starves the real work: training on the Kaggle data took 44 s instead of 9 s with
# passive waiting, measured under load. Read when libgomp loads; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
