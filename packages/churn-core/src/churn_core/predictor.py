"""Predictor: the one object every service calls. Validate → features → native booster → explain."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from churn_core.bundle import (
    BACKGROUND_FILE,
    MODEL_FILE,
    BundleError,
    bundle_digest,
    read_verified,
)
from churn_core.features import (
    MODEL_FEATURE_NAMES,
    Columns,
    build_matrix,
    columns_from_records,
    row_features,
)
from churn_core.schema import FEATURE_NAMES, RiskLevel, risk_level, validate_customers
from churn_core.signing import UNSIGNED, SignatureStatus, TrustedKey, check_bundle
from churn_core.single_row import SingleRowModel, features_of
from churn_core.tree_tables import TreeTables

# The booster is re-checked against the explainer's own tree walk at load; beyond this they
# would disagree about the model and explanations would not add up.
_SCORE_TOLERANCE = 1e-9
# Set to 0 (or false, no, off) to keep the single-row path on LightGBM's C API: ~130 MB less
# resident memory per process, ~7 µs more per one-customer prediction (compile_single_row).
COMPILE_SINGLE_ROW_ENV = "CHURN_COMPILE_SINGLE_ROW"


@dataclass(slots=True)
class Prediction:
    """One customer's answer. A dataclass, not a pydantic model: 1,000 of them cost ~0.25 ms.
    Not frozen: a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, four times the cost (measured), on every batch's hot path."""

    # The Field metadata documents the services' OpenAPI schemas; the dataclass validates nothing.
    churn_probability: Annotated[float, Field(ge=0, le=1)]
    churn_prediction: Literal[0, 1]
    risk_level: RiskLevel
    model_version: str
    feature_contributions: Annotated[
        dict[str, float] | None,
        Field(description="Only when explaining: one entry per feature, probability units."),
    ] = None
    base_value: Annotated[
        float | None,
        Field(description="Only when explaining: base_value + Σ contributions = probability."),
    ] = None

    def model_dump(self, exclude_none: bool = True) -> dict[str, Any]:
        out = {
            "churn_probability": self.churn_probability,
            "churn_prediction": self.churn_prediction,
            "risk_level": self.risk_level,
            "model_version": self.model_version,
        }
        if self.feature_contributions is not None or not exclude_none:
            out["feature_contributions"] = self.feature_contributions
            out["base_value"] = self.base_value
        return out

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        """``dict(prediction)`` gives the same mapping as ``model_dump()``."""
        return iter(self.model_dump().items())


class Predictor:
    def __init__(
        self,
        booster: Any,
        manifest: dict[str, Any],
        background: list[dict[str, Any]],
        signature: SignatureStatus = UNSIGNED,
        bundle_digest: str | None = None,
    ):
        from churn_core.explain import TreeExplainer

        self.booster = booster
        self.manifest = manifest
        self.signature = signature
        self.bundle_digest = bundle_digest
        self.model_version: str = manifest["model_version"]
        self.threshold: float = float(manifest["decision_threshold"])
        self.background = background
        matrix = build_matrix(columns_from_records(background))
        dump = booster.dump_model()
        self.explainer = TreeExplainer(dump, matrix)
        expected = booster.predict(matrix, raw_score=True)
        if np.max(np.abs(self.explainer.bg_score - expected)) > _SCORE_TOLERANCE:
            raise BundleError("model trees could not be read exactly; refusing the bundle")
        self.single_row = SingleRowModel(booster)
        # Batches through lookup tables when they reproduce the booster exactly (checked on
        # the background and the sample customers); otherwise through Booster.predict.
        self.tables = TreeTables.for_booster(booster, dump, _check_rows(matrix))

    @classmethod
    def from_bundle(
        cls, path: str | Path, trusted_keys: Sequence[str | Path | TrustedKey] | None = None
    ) -> Predictor:
        """Load a bundle. ``trusted_keys`` (PEM paths; ``None``: ``CHURN_TRUSTED_PUBLIC_KEYS``)
        set the trust policy: the signature is checked before any bundle file is parsed."""
        import lightgbm as lgb

        signature = check_bundle(path, trusted_keys)
        root, manifest = read_verified(path)
        if manifest.get("model_features") != list(MODEL_FEATURE_NAMES):
            raise BundleError(
                f"bundle {root} was trained on other model features than this churn-core builds"
            )
        try:
            booster = lgb.Booster(model_str=(root / MODEL_FILE).read_text(encoding="utf-8"))
            background = validate_customers(
                json.loads((root / BACKGROUND_FILE).read_text(encoding="utf-8"))
            )
        except BundleError:
            raise
        except Exception as exc:  # a parse failure of any kind means an unusable bundle
            raise BundleError(f"bundle {root} could not be loaded: {type(exc).__name__}") from None
        return cls(booster, manifest, background, signature, bundle_digest(root))

    def describe(self) -> dict[str, Any]:
        """The manifest (with every file's sha256), the digest of the whole bundle and how its
        signature was checked: what /v1/model-like routes show."""
        return {
            **self.manifest,
            "bundle_digest": self.bundle_digest,
            "signature": self.signature.as_dict(),
        }

    def predict_proba_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Probabilities of a model matrix, equal to ``Booster.predict``'s bit for bit."""
        return np.asarray(self._probabilities(matrix))

    def _probabilities(self, matrix: np.ndarray) -> list[float] | np.ndarray:
        if self.tables is not None and not np.isnan(matrix).any():
            return self.tables.probability_list(matrix)
        # One thread for a few rows: there LightGBM's thread pool costs more than it saves.
        threads = 1 if matrix.shape[0] < 256 else 0
        return self.booster.predict(matrix, num_threads=threads)

    def predict_proba(self, columns: Columns) -> np.ndarray:
        """Probabilities for already-validated raw feature columns (batch scoring, drift)."""
        return self.predict_proba_matrix(build_matrix(columns))

    def predict(
        self, customers: Iterable[Mapping[str, Any]] | Any, explain: bool = False
    ) -> list[Prediction]:
        """Validate (raising InvalidCustomerError naming every bad field) and predict.

        ``customers`` is any iterable of mappings (a list of dicts, a generator) or a pandas
        DataFrame with the ten feature columns (others, such as ``Exited``, are ignored).
        One customer in a list or tuple takes the single-row path (churn_core.single_row):
        the same answer, bit for bit, without numpy for one row.
        """
        if type(customers) in (list, tuple) and len(customers) == 1:
            return [self.predict_one(customers[0], explain)]
        return self.predict_valid(validate_customers(_records(customers)), explain)

    def predict_one(self, customer: Mapping[str, Any], explain: bool = False) -> Prediction:
        """One customer through the single-row path; InvalidCustomerError as ``predict``."""
        return self._predict_row(features_of(customer), explain)

    def predict_row(self, row: list[float]) -> Prediction:
        """One valid customer's model feature row (``single_row.features_of``'s, or
        ``json_customer.plain_customer``'s) through the single-row path, unexplained."""
        return self._predict_row(row, explain=False)

    def _predict_row(self, row: list[float], explain: bool) -> Prediction:
        probability = self.single_row.probability(row)
        if not explain:
            return self._prediction(probability)
        contributions, _ = self.explainer.shap_values(np.array([row]))
        return self._prediction(
            probability,
            feature_contributions=dict(
                zip(FEATURE_NAMES, map(float, contributions[0]), strict=True)
            ),
            base_value=self.explainer.base_value,
        )

    def predict_valid(self, rows: list[dict[str, Any]], explain: bool = False) -> list[Prediction]:
        """Predict for customers ``validate_customers`` has already returned (not re-checked)."""
        if not rows:
            return []
        if len(rows) == 1:
            return [self._predict_row(row_features(rows[0]), explain)]
        matrix = build_matrix(columns_from_records(rows))
        probabilities = self._probabilities(matrix)
        if not explain:
            return list(map(self._prediction, map(float, probabilities)))
        # The explainer walks the same trees as the booster (checked at load), so its
        # contributions add up to the served probability.
        contributions, _ = self.explainer.shap_values(matrix)
        base_value = self.explainer.base_value
        return [
            self._prediction(
                float(p),
                feature_contributions=dict(zip(FEATURE_NAMES, map(float, phi), strict=True)),
                base_value=base_value,
            )
            for p, phi in zip(probabilities, contributions, strict=True)
        ]

    def warm_up(self, rounds: int = 1) -> None:
        """Pay the first predictions' lazy setup (LightGBM, pydantic, the explainer) before a
        server reports ready: each sample customer alone, all of them as a batch, one
        explained."""
        from churn_core.samples import SAMPLE_CUSTOMERS

        for _ in range(rounds):
            for customer in SAMPLE_CUSTOMERS:
                self.predict([customer])
            self.predict(SAMPLE_CUSTOMERS)
        self.predict(SAMPLE_CUSTOMERS[:1], explain=True)

    def compile_single_row(self, enabled: bool | None = None) -> bool:
        """Compile the single-row path's trees (single_row.py: numba, ~2 s with its import),
        which servers do once they answer, off the request path: the answers are the same bit
        for bit before and after, only faster, and the process holds ~130 MB more (LLVM).
        ``enabled`` None reads ``CHURN_COMPILE_SINGLE_ROW`` (default on; 0/false/no/off: not
        compiled). False when it stays on LightGBM's C API."""
        if enabled is None:
            setting = os.environ.get(COMPILE_SINGLE_ROW_ENV, "true").strip().lower()
            enabled = setting not in ("0", "false", "no", "off")
        return enabled and self.single_row.compile(self.tables)

    def compile_in_background(self) -> threading.Thread:
        """``compile_single_row`` in a daemon thread (started; returned for whoever waits)."""
        thread = threading.Thread(
            target=self.compile_single_row, name="compile-single-row", daemon=True
        )
        thread.start()
        return thread

    def _prediction(
        self,
        probability: float,
        feature_contributions: dict[str, float] | None = None,
        base_value: float | None = None,
    ) -> Prediction:
        return Prediction(
            probability,
            int(probability >= self.threshold),
            risk_level(probability),
            self.model_version,
            feature_contributions,
            base_value,
        )


def _check_rows(background: np.ndarray) -> np.ndarray:
    """Rows on which batch tables must equal the booster: the background and the samples."""
    from churn_core.samples import SAMPLE_CUSTOMERS

    samples = build_matrix(columns_from_records(validate_customers(SAMPLE_CUSTOMERS)))
    return np.vstack([background, samples])


def _records(customers: Iterable[Mapping[str, Any]] | Any) -> Iterable[Mapping[str, Any]]:
    """A DataFrame's rows as mappings (iterating a frame would yield its column names)."""
    if isinstance(customers, Mapping):
        raise TypeError("predict takes a list of customers (or a DataFrame), not one customer")
    if hasattr(customers, "to_dict") and hasattr(customers, "columns"):
        return customers.to_dict(orient="records")  # pandas boxes numpy scalars to Python's
    return customers
