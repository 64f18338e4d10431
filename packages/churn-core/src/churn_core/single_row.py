"""The fast path for one customer: what it skips, and why the answer is the same.

``Predictor.predict`` of a single customer (every ``POST /predict``, SageMaker's one-customer
invocation, Vertex's one-instance request) comes here. Profiled on one customer, the batch path
spent ~250 µs: ~100 µs building the 14-column numpy matrix for one row, ~80 µs in
``Booster.predict`` (its Python wrapper: parameter copies, array checks, a fresh C-side
predictor per call) and the rest in pydantic and object creation. This path skips three things:

1. **pydantic, when the customer is plainly valid.** ``plain_row`` accepts only a ``dict``
   whose ten values have exactly the types and ranges the strict schema accepts (an ``int`` —
   not a ``bool`` — in bounds, a whole in-bounds ``float`` for an integer field, a finite
   ``float``/``int`` ≥ 0 for an amount, one of the category strings). Anything else, including
   values the schema would accept in a form this check does not know, goes through
   ``validate_customers`` as before, so every refusal still comes from pydantic and names every
   bad field. It is never more permissive: a test feeds both the same bad and boundary values.
2. **numpy for the features.** ``plain_row`` reads each raw feature as it checks it (a
   category's code, a number as a float: one pass over the customer) and adds the engineered
   ones with their plain-Python twins (``ModelFeature.one``); pydantic's customers go through
   ``features.row_features``. Both are tested bit for bit against ``build_matrix``.
3. **Booster.predict's wrapper.** Once a server has compiled the model's tree tables
   (``Predictor.compile_single_row``, in the background once it answers; ``compiled_tables``,
   numba: ~1.5 µs a row), they score the row (checked against ``Booster.predict`` before use, and
   in tests on every threshold's neighbours). Until then, or without numba or tables, LightGBM's
   single-row C API (``LGBM_BoosterPredictForMatSingleRowFastInit`` once, then
   ``…SingleRowFast`` per call, ~9 µs on the real-data model's 222 trees) runs the same trees,
   the same float64 sum and the same sigmoid as the batch prediction on the same booster
   handle; a test checks equality bit for bit on thousands of rows and boundary values, and
   ``SingleRowModel`` checks it again at load on the sample customers, falling back to
   ``Booster.predict`` if the library does not offer the call or disagrees.

The compiled function keeps no state (each call gets its own row array). The C call is made
under a lock: LightGBM keeps per-config scratch buffers, and one fast config
is shared by the event loop and worker threads (uncontended, the lock costs well under 1 µs).
Explanations are not on this path: they use the same explainer on the same feature row as a
batch (only the feature row comes from here), so alone and in a batch they are identical.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from churn_core.compiled_tables import RawScore, compile_raw_score
from churn_core.features import MODEL_FEATURE_NAMES, MODEL_FEATURES, category_codes, row_features
from churn_core.schema import FEATURES, FeatureSpec, validate_customers
from churn_core.tree_tables import TreeTables, probability_of_score

_N_FEATURES = len(MODEL_FEATURE_NAMES)
_C_API_DTYPE_FLOAT64 = 1
_C_API_PREDICT_NORMAL = 0
# The per-row call keeps the GIL (a PYFUNCTYPE, not ctypes' default CFUNCTYPE): releasing and
# re-taking it for a ~5 µs call cost more than the call under load, measured with py-spy, as
# any other thread (capture writer, metrics) could take the GIL in between.
_HOLDING_THE_GIL = ctypes.PYFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_double),
    ctypes.POINTER(ctypes.c_int64),
    ctypes.POINTER(ctypes.c_double),
)


class PlainCheck(NamedTuple):
    """How ``plain_row`` reads one raw feature; ``codes`` for a category, else bounds."""

    name: str
    codes: dict[Any, float] | None
    int_low: int
    int_high: int
    float_low: float
    float_high: float
    whole: bool  # an integer field: a float must be whole


# Beyond 2**53 an int no longer converts to float exactly; leave such values to pydantic.
_EXACT_INT = 2**53


def _check(spec: FeatureSpec) -> PlainCheck:
    if spec.kind == "category":
        return PlainCheck(spec.name, category_codes(spec.name), 0, 0, 0.0, 0.0, False)
    bounds = spec.categories or ()
    low = spec.minimum if spec.minimum is not None else min(bounds, default=-math.inf)
    high = spec.maximum if spec.maximum is not None else max(bounds, default=math.inf)
    return PlainCheck(
        spec.name,
        None,
        max(math.ceil(low), -_EXACT_INT) if low > -math.inf else -_EXACT_INT,
        min(math.floor(high), _EXACT_INT) if high < math.inf else _EXACT_INT,
        max(float(low), -sys.float_info.max),  # never ±inf: an infinite amount is refused
        min(float(high), sys.float_info.max),
        spec.kind == "int",
    )


PLAIN_CHECKS = tuple(_check(spec) for spec in FEATURES)
# The model's features are the ten raw ones in schema order, then the engineered ones.
if MODEL_FEATURE_NAMES[: len(FEATURES)] != tuple(spec.name for spec in FEATURES):
    raise ImportError("plain_row reads the raw features in schema order; features.py differs")
_ENGINEERED = MODEL_FEATURES[len(FEATURES) :]


def plain_row(customer: Any) -> list[float] | None:
    """The model feature row of ``customer`` when the strict schema surely accepts it unchanged
    (see the module doc), read in one pass; None means "ask pydantic", not "invalid".

    Each raw feature is read as ``features.row_features`` reads it (a category's code, a number
    as a float) and the engineered ones come from their own ``ModelFeature.one``; a test checks
    the row against ``row_features`` and ``build_matrix`` bit for bit."""
    if type(customer) is not dict:
        return None
    row = []
    for name, codes, int_low, int_high, float_low, float_high, whole in PLAIN_CHECKS:
        value = customer.get(name)
        kind = type(value)
        if codes is not None:
            if kind is not str or value not in codes:
                return None
            row.append(codes[value])
        elif kind is int:
            if not int_low <= value <= int_high:
                return None
            row.append(float(value))
        elif kind is float:
            if not float_low <= value <= float_high:  # NaN and ±inf fail here
                return None
            if whole and not value.is_integer():
                return None
            row.append(value)
        else:
            return None
    return with_engineered(row, customer)


def with_engineered(row: list[float], customer: Mapping[str, Any]) -> list[float]:
    """``row``, the customer's raw features as read, with the engineered ones appended (each
    from its ``ModelFeature.one``)."""
    row += [feature.one(customer) for feature in _ENGINEERED]
    return row


def features_of(customer: Mapping[str, Any]) -> list[float]:
    """The model feature row of one customer; InvalidCustomerError (from pydantic, naming every
    bad field, index 0) when the customer is not valid."""
    row = plain_row(customer)
    if row is None:
        return row_features(validate_customers([customer])[0])
    return row


class SingleRowModel:
    """Probabilities for one feature row, equal to ``Booster.predict``'s: from the compiled
    tables once ``compile`` has succeeded, else LightGBM's single-row C API, else
    ``Booster.predict`` itself."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster
        self._lock = threading.Lock()
        self._config = ctypes.c_void_p()
        self._row = (ctypes.c_double * _N_FEATURES)()
        self._out_len = ctypes.c_int64()
        self._out_len_ref = ctypes.byref(self._out_len)  # made once, not on every call
        self._out = (ctypes.c_double * 1)()
        self._lib: Any = None
        self._raw_score: RawScore | None = None
        self._init_fast_config()

    @property
    def engine(self) -> str:
        """What scores a row: ``compiled`` tables, LightGBM's ``c-api`` or the ``booster``."""
        if self._raw_score is not None:
            return "compiled"
        return "c-api" if self._lib is not None else "booster"

    def compile(self, tables: TreeTables | None) -> bool:
        """Score rows through the compiled ``tables`` from now on, if numba is installed and
        they give ``Booster.predict``'s probabilities on the sample customers; False (nothing
        changes) otherwise."""
        if tables is None:
            return False
        raw_score = compile_raw_score(tables, _N_FEATURES)
        if raw_score is None:
            return False
        if not self._agrees_with_batch(lambda row: probability_of_score(raw_score(tuple(row)))):
            return False
        self._raw_score = raw_score
        return True

    def _init_fast_config(self) -> None:
        try:
            from lightgbm.basic import _LIB

            handle = self.booster._handle
            init = _LIB.LGBM_BoosterPredictForMatSingleRowFastInit
            address = ctypes.cast(_LIB.LGBM_BoosterPredictForMatSingleRowFast, ctypes.c_void_p)
            self._fast = _HOLDING_THE_GIL(address.value)
            self._free = _LIB.LGBM_FastConfigFree
        except (ImportError, AttributeError):
            return
        best = getattr(self.booster, "best_iteration", -1)
        code = init(
            handle,
            ctypes.c_int(_C_API_PREDICT_NORMAL),
            ctypes.c_int(0),  # start iteration
            ctypes.c_int(best if best > 0 else -1),  # as Booster.predict: best or all
            ctypes.c_int(_C_API_DTYPE_FLOAT64),
            ctypes.c_int32(_N_FEATURES),
            ctypes.c_char_p(b"num_threads=1"),
            ctypes.byref(self._config),
        )
        if code != 0:
            return
        self._lib = _LIB
        if not self._agrees_with_batch(self.probability):
            self.close()

    def _agrees_with_batch(self, probability: Callable[[list[float]], float]) -> bool:
        """``probability`` gives Booster.predict's answers on the sample customers."""
        from churn_core.samples import SAMPLE_CUSTOMERS

        rows = [row_features(c) for c in validate_customers(SAMPLE_CUSTOMERS)]
        expected = self.booster.predict(np.array(rows), num_threads=1)
        return all(probability(r) == float(e) for r, e in zip(rows, expected, strict=True))

    def probability(self, row: list[float]) -> float:
        raw_score = self._raw_score
        if raw_score is not None:
            try:
                score = raw_score(tuple(row))
            except TypeError:  # not a row of floats (our features never give one)
                score = math.nan
            if score == score:  # NaN: a row with a missing value, left to LightGBM
                return probability_of_score(score)
        if self._lib is None:
            return float(self.booster.predict(np.array([row]), num_threads=1)[0])
        with self._lock:
            self._row[:] = row
            code = self._fast(self._config, self._row, self._out_len_ref, self._out)
            if code != 0:
                raise RuntimeError("LightGBM single-row prediction failed")
            return self._out[0]

    def close(self) -> None:
        """Release the C API's config (the compiled tables, if any, stay)."""
        with self._lock:
            if self._lib is not None and self._config.value:
                self._free(self._config)
            self._config = ctypes.c_void_p()
            self._lib = None

    def __del__(self) -> None:
        # At interpreter shutdown the library may be gone already.
        with contextlib.suppress(Exception):
            self.close()
