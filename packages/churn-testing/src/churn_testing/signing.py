"""Signing keys and the attacks on a signed bundle that every path's signing tests replay: one
definition of each attack, so every server is held to the same cases."""

from __future__ import annotations

from typing import Any


def make_signing_keys(directory: Any, name: str = "signer") -> tuple[Any, Any]:
    """A fresh P-256 key pair written as PEM files: (private key path, public key path).

    Keys are made per test run and never committed (cryptography comes with the signing extra).
    """
    from pathlib import Path

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private, public = Path(directory) / f"{name}.pem", Path(directory) / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def forge_bundle(bundle_dir: Any) -> None:
    """The attacker who can write the bucket: change model.txt (still a valid booster, another
    answer) and rewrite its sha256 in manifest.json so the checksums agree again."""
    import json
    from pathlib import Path

    from churn_core.bundle import MANIFEST, MODEL_FILE, sha256_file

    root = Path(bundle_dir)
    model = root / MODEL_FILE
    text = model.read_text(encoding="utf-8")
    # Shift the first leaf value of the first tree: the model still loads, and answers differently.
    start = text.index("leaf_value=") + len("leaf_value=")
    end = text.index(" ", start)
    model.write_text(text[:start] + repr(float(text[start:end]) + 1.0) + text[end:], "utf-8")
    manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    manifest["files"][MODEL_FILE] = sha256_file(model)
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", "utf-8")


ATTACKS = ("forged", "other key", "signature removed")


def signing_key_pairs(directory: Any) -> dict[str, tuple[Any, Any]]:
    """Two fresh key pairs: "trusted" (signs the bundles) and "other" (an untrusted signer)."""
    return {name: make_signing_keys(directory, name) for name in ("trusted", "other")}


def signed_copy(bundle_dir: Any, dest: Any, private_key: Any) -> Any:
    """A copy of ``bundle_dir`` at ``dest``, signed with ``private_key``."""
    import shutil
    from pathlib import Path

    from churn_core.signing import sign

    copy = Path(shutil.copytree(bundle_dir, dest))
    sign(copy, private_key)
    return copy


def attack(bundle_dir: Any, name: str, keys: dict[str, tuple[Any, Any]]) -> Any:
    """Apply one of ATTACKS to a bundle signed by keys["trusted"]; return the public key the
    server under test should trust (the trusted one, except for "other key")."""
    from pathlib import Path

    from churn_core.signing import SIGNATURE_FILE

    if name == "forged":
        forge_bundle(bundle_dir)
    elif name == "signature removed":
        (Path(bundle_dir) / SIGNATURE_FILE).unlink()
    elif name != "other key":
        raise ValueError(f"unknown attack {name!r}")
    return keys["other" if name == "other key" else "trusted"][1]
