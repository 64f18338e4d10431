"""The model bundle: a directory of plain files and a manifest with the sha256 of each.

Nothing in a bundle is code: the booster is LightGBM's text format, everything else is JSON or
CSV. Loading checks every checksum before any file is parsed, so a tampered, truncated or foreign
bundle is refused, and no loader here can unpickle.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from churn_core.schema import schema_fingerprint

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MODEL_FILE = "model.txt"
BACKGROUND_FILE = "background.json"
REFERENCE_FILE = "reference.csv"


class BundleError(ValueError):
    """A bundle that is missing, tampered with, or was built for another schema or format."""

    # Safe to show on an unauthenticated health route (the message may name internal paths).
    public_reason = "model bundle missing or invalid"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(bundle_dir: Path, manifest: dict[str, Any]) -> Path:
    """Record the checksum of every file already in ``bundle_dir`` and write manifest.json."""
    files = sorted(p for p in bundle_dir.iterdir() if p.is_file() and p.name != MANIFEST)
    manifest = {
        **manifest,
        "format_version": FORMAT_VERSION,
        "feature_schema": schema_fingerprint(),
        "files": {p.name: sha256_file(p) for p in files},
    }
    path = bundle_dir / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def bundle_digest(bundle_dir: str | Path) -> str:
    """One digest for the whole bundle: the sha256 of manifest.json, which holds the sha256 of
    every other file. Two bundles with the same digest serve the same model; an operator asking
    "which bundle is live" compares this one value (the signature file is not part of it)."""
    return "sha256:" + sha256_file(Path(bundle_dir) / MANIFEST)


def read_verified(bundle_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    """Return (dir, manifest) after checking format, schema and every file's sha256."""
    root = Path(bundle_dir)
    if not root.is_dir():
        raise BundleError(f"model bundle not found: {root} is not a directory")
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(f"not a model bundle: {root} has no {MANIFEST}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{manifest_path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise BundleError(
            f"unsupported bundle format {found!r} in {root} (expected {FORMAT_VERSION})"
        )
    if manifest.get("feature_schema") != schema_fingerprint():
        raise BundleError(f"bundle {root} was built for a different feature schema")
    files = manifest.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise BundleError(f"manifest in {root} does not list {MODEL_FILE}")
    for name, expected in files.items():
        path = root / name
        if Path(name).name != name or not path.is_file():
            raise BundleError(f"bundle file missing or outside the bundle: {name}")
        if sha256_file(path) != expected:
            raise BundleError(f"checksum mismatch for {name}: the bundle was modified or truncated")
    return root, manifest
