"""The one definition of the ten features. Everything else derives its rules from FEATURES."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from typing_extensions import TypedDict


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    kind: Literal["int", "float", "category"]
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[Any, ...] | None = None
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "categories": list(self.categories) if self.categories else None,
        }


FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("CreditScore", "int", 300, 900, description="Credit score"),
    FeatureSpec(
        "Geography", "category", categories=("France", "Germany", "Spain"), description="Country"
    ),
    FeatureSpec("Gender", "category", categories=("Female", "Male")),
    FeatureSpec("Age", "int", 18, 100, description="Age in years"),
    FeatureSpec("Tenure", "int", 0, 10, description="Years as a customer"),
    FeatureSpec("Balance", "float", 0, None, description="Account balance"),
    FeatureSpec("NumOfProducts", "int", 1, 4, description="Number of bank products held"),
    FeatureSpec("HasCrCard", "int", categories=(0, 1), description="Has a credit card (0/1)"),
    FeatureSpec("IsActiveMember", "int", categories=(0, 1), description="Active member (0/1)"),
    FeatureSpec("EstimatedSalary", "float", 0, None, description="Estimated yearly salary"),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_BY_NAME: dict[str, FeatureSpec] = {f.name: f for f in FEATURES}
CATEGORICAL: dict[str, tuple[Any, ...]] = {
    f.name: f.categories for f in FEATURES if f.kind == "category" and f.categories
}
LABEL = "Exited"
IDENTIFIERS: tuple[str, ...] = ("RowNumber", "CustomerId", "Surname")

RISK_THRESHOLDS: tuple[tuple[float, str], ...] = ((0.3, "LOW"), (0.7, "MEDIUM"))
RiskLevel = Literal["LOW", "MEDIUM", "HIGH"]


def risk_level(probability: float) -> RiskLevel:
    for upper, level in RISK_THRESHOLDS:
        if probability < upper:
            return level  # type: ignore[return-value]
    return "HIGH"


def schema_fingerprint() -> list[dict[str, Any]]:
    """The schema as stored in a bundle manifest; a bundle with another schema is refused."""
    return [f.as_dict() for f in FEATURES]


def _pydantic_type(spec: FeatureSpec) -> Any:
    field_kwargs: dict[str, Any] = {"description": spec.description}
    if spec.kind == "category":
        return Annotated[Literal[spec.categories], Field(**field_kwargs)]  # type: ignore[valid-type]
    base: type = int if spec.kind == "int" else float
    if spec.categories is not None:  # 0/1 flags: a strict int, so True is not taken for 1
        field_kwargs.update(ge=min(spec.categories), le=max(spec.categories))
    if spec.minimum is not None:
        field_kwargs["ge"] = spec.minimum
    if spec.maximum is not None:
        field_kwargs["le"] = spec.maximum
    if spec.kind == "float":
        field_kwargs["allow_inf_nan"] = False
    return Annotated[base, Field(**field_kwargs)]


# Strict: "650" is not an int and True is not 1 — a bad value is named, never coerced.
_STRICT = ConfigDict(strict=True, extra="ignore")

Customer: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "Customer",
    __config__=_STRICT,
    __doc__="One bank customer: the ten model features with their JSON field names.",
    **{spec.name: (_pydantic_type(spec), ...) for spec in FEATURES},
)

# A TypedDict validates without building model instances: the request hot path uses it.
_CustomerDict = TypedDict(  # type: ignore[misc]
    "_CustomerDict", {spec.name: _pydantic_type(spec) for spec in FEATURES}
)
_CustomerDict.__pydantic_config__ = _STRICT  # type: ignore[attr-defined]
_customers_adapter: TypeAdapter[list[dict[str, Any]]] = TypeAdapter(list[_CustomerDict])


@dataclass(frozen=True)
class FieldError:
    index: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


class InvalidCustomerError(ValueError):
    """Raised for invalid customers; ``errors`` lists every bad field of every customer."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"customer {e.index}: {e.field}: {e.message}" for e in errors))


def _field_errors(exc: ValidationError, single: bool) -> list[FieldError]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = list(err["loc"])
        index = 0 if single else int(loc.pop(0)) if loc and isinstance(loc[0], int) else 0
        # Literal errors carry the literal value as a trailing loc part on some versions.
        field = str(loc[0]) if loc else "(customer)"
        out.append(FieldError(index=index, field=field, message=err["msg"]))
    return out


def validate_customers(customers: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validate customers against the schema; raise InvalidCustomerError naming every bad field."""
    rows = customers if isinstance(customers, list) else list(customers)
    try:
        return _customers_adapter.validate_python(rows)
    except ValidationError as exc:
        raise InvalidCustomerError(_field_errors(exc, single=False)) from None
