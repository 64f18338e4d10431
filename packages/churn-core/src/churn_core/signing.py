"""Signed bundles: sign and verify with OpenSSF Model Signing, and the trust policy at load.

A bundle's manifest.json catches a flipped byte, not someone who can write the bucket: they
rewrite model.txt and its sha256 together. A signature by a key the operator trusts closes that:
``sign`` writes ``model.sig`` (an OpenSSF Model Signing / Sigstore bundle, key-based elliptic
curve, no network) covering every file of the bundle, manifest included; loading with trusted
keys configured refuses a bundle without a valid signature by one of them, before any model file
is parsed.

Trusted keys come from the caller or from ``CHURN_TRUSTED_PUBLIC_KEYS``: PEM public-key paths
separated by ``,``. An entry may also be the PEM text itself (it holds no comma), for platforms
whose only trusted channel into the process is an environment variable (SageMaker's framework
container, where every file comes from the model tarball). No keys: load as before, log a
warning and describe the model as unsigned.

``model_signing`` (extra ``churn-core[signing]``) is imported only when signing or verifying.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churn_core.bundle import BundleError

logger = logging.getLogger(__name__)

SIGNATURE_FILE = "model.sig"
TRUST_ENV = "CHURN_TRUSTED_PUBLIC_KEYS"
PEM_HEADER = "-----BEGIN PUBLIC KEY-----"
# Never part of the model: the signature itself, and code/ where SageMaker's model tarball
# carries the inference code next to the bundle files (the loader never reads it).
UNSIGNED_PATHS = (SIGNATURE_FILE, "code")
_INSTALL_HINT = "bundle signing needs the extra: pip install 'churn-core[signing]'"


class SignatureError(BundleError):
    """A bundle refused by the trust policy: unsigned, tampered, or signed by an untrusted key."""

    public_reason = "model bundle refused: no valid signature by a trusted key"


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One trusted public key: where it came from, its PEM text and its fingerprint."""

    source: str
    pem: bytes
    fingerprint: str


@dataclass(frozen=True, slots=True)
class SignatureStatus:
    """How the loaded bundle was checked; shown wherever the model is described."""

    verified: bool
    key_fingerprint: str | None = None

    @property
    def state(self) -> str:
        return "verified" if self.verified else "unsigned"

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.state,
            "verified": self.verified,
            "key_fingerprint": self.key_fingerprint,
        }


UNSIGNED = SignatureStatus(verified=False)


def fingerprint(pem: bytes) -> str:
    """``sha256:`` + hex of the key's DER SubjectPublicKeyInfo (what `openssl pkey -pubin
    -outform DER | sha256sum` prints), so an operator can compare it with their key file."""
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError as exc:
        raise SignatureError(f"{_INSTALL_HINT} ({exc})") from None
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"not a PEM public key: {exc}") from None
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def load_key(entry: str | Path) -> TrustedKey:
    """A trusted key from a PEM file path, or from inline PEM text."""
    text = str(entry).strip()
    if text.startswith(PEM_HEADER):
        pem, source = text.encode(), "inline PEM"
    else:
        path = Path(text)
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise SignatureError(f"trusted public key {path} unreadable: {exc.strerror}") from None
        source = str(path)
    try:
        return TrustedKey(source, pem, fingerprint(pem))
    except SignatureError as exc:
        raise SignatureError(f"trusted public key {source}: {exc}") from None


def trusted_keys_from_env(environ: dict[str, str] | None = None) -> list[TrustedKey]:
    """The keys named by ``CHURN_TRUSTED_PUBLIC_KEYS`` (none when unset or empty)."""
    value = (os.environ if environ is None else environ).get(TRUST_ENV, "")
    return [load_key(part) for part in value.split(",") if part.strip()]


def resolve_trusted_keys(
    trusted_keys: Sequence[str | Path | TrustedKey] | None,
) -> list[TrustedKey]:
    """The trust policy: the given keys, or the environment's when ``None``.

    An unreadable or malformed key is an error, never a silent fall-back to "no keys".
    """
    if trusted_keys is None:
        return trusted_keys_from_env()
    return [k if isinstance(k, TrustedKey) else load_key(k) for k in trusted_keys]


def _model_signing() -> Any:
    try:
        import model_signing
    except ImportError as exc:
        raise SignatureError(f"{_INSTALL_HINT} ({exc})") from None
    return model_signing


def _hashing_config(model_signing: Any) -> Any:
    # Git paths are part of the model here: nothing is excluded unless listed.
    return model_signing.hashing.Config().set_ignored_paths(
        paths=list(UNSIGNED_PATHS), ignore_git_paths=False
    )


def sign(bundle_dir: str | Path, private_key: str | Path, password: str | None = None) -> Path:
    """Write ``model.sig`` into the bundle, signed with an elliptic-curve private key (PEM)."""
    root = Path(bundle_dir)
    if not (root / "manifest.json").is_file():
        raise BundleError(f"not a model bundle: {root} has no manifest.json")
    model_signing = _model_signing()
    signature = root / SIGNATURE_FILE
    try:
        config = model_signing.signing.Config().use_elliptic_key_signer(
            private_key=Path(private_key), password=password
        )
        config.set_hashing_config(_hashing_config(model_signing)).sign(root, signature)
    except (OSError, ValueError, TypeError) as exc:
        raise SignatureError(f"could not sign {root}: {exc}") from None
    return signature


@contextmanager
def _key_file(key: TrustedKey) -> Iterator[Path]:
    """model_signing reads keys from files; an inline key goes through a private temp file."""
    if key.source != "inline PEM":
        yield Path(key.source)
        return
    with tempfile.NamedTemporaryFile(suffix=".pem") as handle:
        handle.write(key.pem)
        handle.flush()
        yield Path(handle.name)


def verify(bundle_dir: str | Path, trusted_keys: Sequence[TrustedKey]) -> SignatureStatus:
    """Check ``model.sig`` against each trusted key; the first that verifies wins.

    Raises SignatureError naming why: no signature, or no trusted key verifies (tampered, or
    signed by another key).
    """
    if not trusted_keys:
        raise ValueError("verify needs at least one trusted key")
    root = Path(bundle_dir)
    signature = root / SIGNATURE_FILE
    if not root.is_dir():
        raise BundleError(f"model bundle not found: {root} is not a directory")
    if not signature.is_file():
        raise SignatureError(f"bundle {root} is not signed ({SIGNATURE_FILE} missing)")
    model_signing = _model_signing()
    reasons = []
    for key in trusted_keys:
        config = model_signing.verifying.Config().set_hashing_config(_hashing_config(model_signing))
        try:
            with _key_file(key) as path:
                config.use_elliptic_key_verifier(public_key=path).verify(root, signature)
        except Exception as exc:  # the library raises ValueError and protobuf/crypto errors
            reasons.append(f"key {key.fingerprint[:19]}…: {_reason(exc)}")
            continue
        return SignatureStatus(verified=True, key_fingerprint=key.fingerprint)
    raise SignatureError(
        f"bundle {root} has no valid signature by a trusted key ({'; '.join(reasons)})"
    )


def _reason(exc: Exception) -> str:
    """A short, readable reason (model_signing's mismatch message prints raw digest bytes)."""
    text = str(exc)
    if "Signature mismatch" in text:
        parts = []
        changed = re.findall(r"Hash mismatch for \\?'([^'\\]+)", text)
        if changed:
            parts.append("changed since signing: " + ", ".join(changed))
        for kind in ("Extra", "Missing"):
            found = re.search(kind + r" files[^:]*: ([^\]\"]+)", text)
            if found:
                parts.append(f"{kind.lower()} files: {found.group(1).strip()}")
        return "; ".join(parts) or "signature mismatch"
    lines = text.strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]


def check_bundle(
    bundle_dir: str | Path, trusted_keys: Sequence[str | Path | TrustedKey] | None = None
) -> SignatureStatus:
    """The trust policy at load: verify against the trusted keys, or warn that none are set."""
    keys = resolve_trusted_keys(trusted_keys)
    if not keys:
        logger.warning(
            "no trusted public keys configured (%s): loading %s without checking a signature",
            TRUST_ENV,
            bundle_dir,
        )
        return UNSIGNED
    status = verify(bundle_dir, keys)
    logger.info("bundle %s signature verified by %s", bundle_dir, status.key_fingerprint)
    return status
