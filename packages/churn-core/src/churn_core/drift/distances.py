"""The drift thresholds of ``churn-core drift`` restated in the distances a managed monitor
(Vertex AI Model Monitoring) measures, so both flag the same size of shift.

Vertex compares a numeric feature's distributions by Jensen-Shannon divergence and a
categorical one by L-infinity distance (the largest change of any category's share). Our
report uses PSI, the symmetric KL divergence. For small shifts PSI ≈ χ² and JS ≈ χ²/8, so
the JS threshold is ``psi / 8``. For a category split evenly two ways, a share change of
``d`` gives PSI ≈ 4·d², so the L-infinity threshold is ``sqrt(psi / 4)``.
"""

from __future__ import annotations

import math

from churn_core.drift.report import Thresholds
from churn_core.schema import CATEGORICAL, FEATURE_NAMES

DEFAULT = Thresholds()


def js_divergence_threshold(thresholds: Thresholds = DEFAULT) -> float:
    return thresholds.psi / 8.0


def linf_threshold(thresholds: Thresholds = DEFAULT) -> float:
    return math.sqrt(thresholds.psi / 4.0)


def per_feature_distance_thresholds(thresholds: Thresholds = DEFAULT) -> dict[str, float]:
    """Feature name → the threshold in the distance Vertex uses for that feature's type."""
    return {
        name: round(linf_threshold(thresholds) if name in CATEGORICAL else
                    js_divergence_threshold(thresholds), 4)
        for name in FEATURE_NAMES
    }  # fmt: skip
