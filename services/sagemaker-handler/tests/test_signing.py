"""Signed bundles on the SageMaker path: the tarball carries model.sig, model_fn verifies it.

The trusted key reaches the container through the Model's environment (CreateModel), as inline
PEM in CHURN_TRUSTED_PUBLIC_KEYS: in the framework image every file comes from the tarball, so a
key file there would be the attacker's to replace.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from churn_core.signing import SIGNATURE_FILE, TRUST_ENV, SignatureError
from churn_testing import free_port
from churn_testing.signing import ATTACKS, attack, signed_copy
from sagemaker_handler.packaging import extract_tarball, package_model, read_runtime

from .smh_helpers import start_serve

REASON = SignatureError.public_reason


@pytest.fixture(scope="module")
def signed_tarball(
    tmp_path_factory: pytest.TempPathFactory, bundle_dir: Path, core_wheel: Path, signing_keys: dict
) -> Path:
    signed = signed_copy(
        bundle_dir, tmp_path_factory.mktemp("signed") / "model", signing_keys["trusted"][0]
    )
    out = tmp_path_factory.mktemp("package") / "model.tar.gz"
    return package_model(signed, out, wheel=core_wheel).path


def _attacked(tarball: Path, name: str, signing_keys: dict, tmp_path: Path) -> tuple[Path, Path]:
    """The tarball after an attacker with write access to the model object rewrote it, and
    the public key the container trusts."""
    root = extract_tarball(tarball, tmp_path / name / "extracted")
    if name == "code replaced":  # the verifier itself, which model.sig does not cover
        script = root / "code" / "inference.py"
        script.write_text(script.read_text() + "\n# attacker's code\n")
        key = signing_keys["trusted"][1]
    else:
        key = attack(root, name, signing_keys)
    out = tmp_path / f"{name.replace(' ', '-')}.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(root.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(root)), recursive=False)
    return out, key


def _trust(key: Path) -> dict[str, str]:
    return {TRUST_ENV: key.read_text()}  # inline PEM, as the Model's environment carries it


def test_tarball_carries_the_signature_and_the_verifier(signed_tarball: Path) -> None:
    with tarfile.open(signed_tarball) as tar:
        assert SIGNATURE_FILE in tar.getnames()
    requirements = read_runtime(signed_tarball)["requirements"]
    assert requirements[0].endswith(".whl[signing]")
    assert any(r.startswith("model-signing==") for r in requirements)
    assert any(r.startswith("pyopenssl==") for r in requirements)


def test_valid_signature_is_served(signed_tarball: Path, signing_keys: dict) -> None:
    port = free_port()
    process = start_serve(signed_tarball, port, env=_trust(signing_keys["trusted"][1]))
    try:
        process.wait_ready(120)
    finally:
        process.stop()
    stderr = process.output()
    assert "signature verified by sha256:" in stderr


@pytest.mark.parametrize("name", [*ATTACKS, "code replaced"])
def test_refused_tarball_keeps_serve_up_and_unready(
    name: str, signed_tarball: Path, signing_keys: dict, tmp_path: Path
) -> None:
    tarball, key = _attacked(signed_tarball, name, signing_keys, tmp_path)
    port = free_port()
    process = start_serve(tarball, port, env=_trust(key))
    try:
        status, body = process.wait_refused()
        assert process.returncode is None  # still serving
    finally:
        process.stop()
    stderr = process.output()
    assert (status, body) == (503, {"error": REASON})
    assert "SignatureError" in stderr and "Traceback" not in stderr


# model_fn from the extracted tarball on the framework image's Python, trust from the env;
# code/ is on PYTHONPATH, as the framework puts it on sys.path.
MODEL_FN = r"""
import json, sys
import inference
try:
    model = inference.model_fn(sys.argv[1])
except Exception as exc:
    print("RESULT " + json.dumps({"refused": type(exc).__name__, "reason": exc.public_reason}))
else:
    print("RESULT " + json.dumps({"served": model.describe()["signature"]}))
"""


@pytest.mark.slow
def test_model_fn_verifies_on_the_framework_images_python(
    signed_tarball: Path, signing_keys: dict, tmp_path: Path
) -> None:
    from .test_target_runtime import IMAGE_PINS, PYTHON_310, run

    if not PYTHON_310.exists():
        pytest.skip(f"the target runtime's Python 3.10 is not here ({PYTHON_310})")
    env_dir = tmp_path / "py310"
    run([str(PYTHON_310), "-m", "venv", str(env_dir)])
    python = str(env_dir / "bin" / "python")
    pip = [python, "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    run([*pip, *IMAGE_PINS])
    results: dict[str, Any] = {}
    for name in ("valid", *ATTACKS):
        source, key = signed_tarball, signing_keys["trusted"][1]
        if name != "valid":
            source, key = _attacked(signed_tarball, name, signing_keys, tmp_path)
        model_dir = extract_tarball(source, tmp_path / name / "opt" / "ml" / "model")
        if name == "valid":
            run([*pip, "-r", "requirements.txt"], cwd=model_dir / "code")
        done = subprocess.run(
            [python, "-c", MODEL_FN, str(model_dir)],
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(model_dir / "code"), **_trust(key)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        results[name] = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert results["valid"]["served"]["verified"] is True
    for name in ATTACKS:
        assert results[name] == {"refused": "SignatureError", "reason": REASON}, name
