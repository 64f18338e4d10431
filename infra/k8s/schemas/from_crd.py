"""Turn a CRD's openAPIV3Schema into the JSON Schema (draft 2020-12) the manifest tests use.

    uv run python infra/k8s/schemas/from_crd.py CRD.yaml VERSION > KIND-GROUP-VERSION.json

Used for the SparkApplication schema (README.md names the source). The CRD is structural, so
unknown fields are refused (``additionalProperties: false`` wherever properties are listed and
the CRD does not keep unknown fields); int-or-string fields take both; ``metadata`` is checked
as ObjectMeta from kubernetes-validate's definitions, like the hand-written schemas.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml

OBJECT_META = (
    "https://kubernetes.io/api/_definitions.json#/$defs/"
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
)


def convert(node: Any) -> Any:
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: convert(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable"):
        out.pop("nullable")
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def main(crd_path: str, version: str) -> None:
    crd = yaml.safe_load(open(crd_path, encoding="utf-8"))  # noqa: SIM115
    spec = crd["spec"]
    served = next(v for v in spec["versions"] if v["name"] == version)
    schema = convert(served["schema"]["openAPIV3Schema"])
    kind, group = spec["names"]["kind"], spec["group"]
    schema["properties"]["apiVersion"] = {"type": "string", "const": f"{group}/{version}"}
    schema["properties"]["kind"] = {"type": "string", "const": kind}
    schema["properties"]["metadata"] = {"$ref": OBJECT_META}
    schema.pop("description", None)
    out = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://churn-platform.local/schemas/{kind.lower()}-{group}-{version}.json",
        "title": kind,
        **schema,
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
