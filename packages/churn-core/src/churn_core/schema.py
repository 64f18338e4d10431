"""The one definition of the ten features. Everything else derives its rules from FEATURES."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    create_model,
)
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
    bounds: dict[str, Any] = {}
    if spec.categories is not None:  # 0/1 flags: a strict int, so True is not taken for 1
        bounds.update(ge=min(spec.categories), le=max(spec.categories))
    if spec.minimum is not None:
        bounds["ge"] = spec.minimum
    if spec.maximum is not None:
        bounds["le"] = spec.maximum
    if spec.kind == "float":
        return Annotated[float, Field(**field_kwargs, **bounds, allow_inf_nan=False)]
    # JSON has one number type: 40.0 is the integer 40 (so says JSON Schema, and protobuf-based
    # gateways such as Vertex send every number as a double). 40.5, "40" and true are refused.
    json_schema = {"type": "integer", "description": spec.description}
    json_schema.update({"minimum": bounds["ge"], "maximum": bounds["le"]})
    return Annotated[
        Annotated[int, Strict(), Field(**bounds)]
        | Annotated[float, Strict(), Field(**bounds), AfterValidator(_whole_number)],
        WithJsonSchema(json_schema),
    ]


def _whole_number(value: float) -> int:
    if not value.is_integer():
        raise ValueError("Input should be a whole number")
    return int(value)


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


_GENERIC = ("Input should be a valid integer", "Input should be a valid number")


def _field_errors(exc: ValidationError) -> list[FieldError]:
    """One error per customer field. An integer field is validated as int or whole float, so it
    may report twice; the specific message wins over "should be a valid integer/number"."""
    messages: dict[tuple[int, str], str] = {}
    for err in exc.errors(include_url=False, include_input=False):
        loc = list(err["loc"])
        index = int(loc.pop(0)) if loc and isinstance(loc[0], int) else 0
        key = (index, str(loc[0]) if loc else "(customer)")
        if key not in messages or (messages[key] in _GENERIC and err["msg"] not in _GENERIC):
            messages[key] = err["msg"]
    return [FieldError(index, field, message) for (index, field), message in messages.items()]


def validate_customers(customers: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validate customers against the schema; raise InvalidCustomerError naming every bad field."""
    rows = customers if isinstance(customers, list) else list(customers)
    try:
        return _customers_adapter.validate_python(rows)
    except ValidationError as exc:
        raise InvalidCustomerError(_field_errors(exc)) from None


def _typed_cell(spec: FeatureSpec, cell: str) -> Any:
    if spec.kind == "category":
        if not cell:
            raise ValueError(cell)
        return cell
    if spec.kind == "int":
        return int(cell)  # "650.0" and "" are refused, not rounded
    return float(cell)


def customers_from_csv(text: str) -> list[dict[str, Any]]:
    """Customers from CSV rows in schema order without a header; cells typed by the schema.

    A cell of the wrong type or a row of the wrong length raises InvalidCustomerError naming it;
    values are then validated as any other customers are.
    """
    import csv
    import io

    customers: list[dict[str, Any]] = []
    errors: list[FieldError] = []
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    for index, row in enumerate(rows):
        if len(row) != len(FEATURES):
            message = (
                f"expected {len(FEATURES)} columns ({','.join(FEATURE_NAMES)}), got {len(row)}"
            )
            errors.append(FieldError(index, "(row)", message))
            continue
        customer: dict[str, Any] = {}
        for spec, cell in zip(FEATURES, row, strict=True):
            try:
                customer[spec.name] = _typed_cell(spec, cell.strip())
            except ValueError:
                errors.append(
                    FieldError(index, spec.name, f"{cell.strip()!r} is not a {spec.kind}")
                )
        customers.append(customer)
    if errors:
        raise InvalidCustomerError(errors)
    return customers


def customers_to_csv(customers: Iterable[Mapping[str, Any]], header: bool = False) -> str:
    """The ten features of each customer as CSV rows in schema order (what customers_from_csv
    reads back), with the feature names as a first row when ``header``. Values are written as
    given (floats as repr, the shortest text that reads back exactly); other columns are dropped.
    """
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(FEATURE_NAMES)
    writer.writerows([customer[name] for name in FEATURE_NAMES] for customer in customers)
    return out.getvalue()
