"""One customer's JSON body decoded and checked in one pass of C (msgspec; the ``json`` extra).

Every ``POST /predict`` body is one customer. Parsing it into a dict (orjson), then checking and
reading each field in Python (``single_row.plain_row``), cost ~3–4 µs of a ~20 µs request in
process, the largest part of it ours. msgspec decodes the same bytes straight into a typed
record and checks each field's type and bounds as it reads it: ~0.4 µs.

What it accepts, and why the answer is the same: a JSON object holding exactly the ten
features, each value of a type and within bounds that ``plain_row`` accepts unchanged (the same
``PLAIN_CHECKS``: an ``int`` for an integer field, an ``int`` or a ``float`` for an amount, one
of a category's strings), read to the same row (a test compares both, bit for bit). It accepts
less than ``plain_row``: anything else (a key more or less, ``40.0`` for an integer field, a
``bool``, JSON that orjson would refuse) gives None, and the body takes the general path
(orjson, ``plain_row``, pydantic), which answers or names every bad field as before. Where
JSON itself is loose, msgspec reads as orjson does: the last of repeated keys wins; NaN
literals, numbers beyond a double, leading zeros, trailing bytes, invalid UTF-8 and a byte
order mark are refused (tests feed both parsers the same bodies).

Python 3.11 (``operator.call``), unlike the rest of the core: only serving-api imports it, never
the SageMaker tarball's code in AWS's Python 3.10 image.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, Union

import msgspec

from churn_core.single_row import PLAIN_CHECKS, PlainCheck, with_engineered


def _field_type(check: PlainCheck) -> Any:
    if check.codes is not None:
        return Literal[tuple(check.codes)]  # type: ignore[valid-type]
    whole = Annotated[int, msgspec.Meta(ge=check.int_low, le=check.int_high)]
    if check.whole:
        return whole
    return Union[whole, Annotated[float, msgspec.Meta(ge=check.float_low, le=check.float_high)]]  # noqa: UP007


# forbid_unknown_fields: a body with any other key goes the general way (which ignores extras,
# but also parses, and may refuse, what is in them).
_Customer = msgspec.defstruct(
    "_Customer",
    [(check.name, _field_type(check)) for check in PLAIN_CHECKS],
    forbid_unknown_fields=True,
)
_DECODER = msgspec.json.Decoder(_Customer)
# How each raw feature is read into the row, in PLAIN_CHECKS' (the schema's) order, which is the
# struct's and so its dict's: a category's code, else float().
_READ = tuple(float if c.codes is None else c.codes.__getitem__ for c in PLAIN_CHECKS)


def plain_customer(body: bytes) -> tuple[dict[str, Any], list[float]] | None:
    """The customer (its ten features, as a dict) and its model feature row when ``body`` is
    one plainly valid customer (see the module doc); None means "take the general path", not
    "invalid"."""
    try:
        record = _DECODER.decode(body)
    except (msgspec.MsgspecError, ValueError):  # ValueError: invalid UTF-8 in a string
        return None
    customer = msgspec.structs.asdict(record)
    return customer, with_engineered(list(map(operator.call, _READ, customer.values())), customer)
