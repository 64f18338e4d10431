"""Signed bundles: the trust policy at load, and the sign / verify / train --sign-key commands."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from churn_core import BundleError, Predictor
from churn_core.cli import main
from churn_core.drift import read_reference
from churn_core.signing import SIGNATURE_FILE, TRUST_ENV, SignatureError
from churn_testing.signing import forge_bundle, signed_copy

CUSTOMER = {
    "CreditScore": 600, "Geography": "Germany", "Gender": "Female", "Age": 52, "Tenure": 3,
    "Balance": 120000.0, "NumOfProducts": 1, "HasCrCard": 1, "IsActiveMember": 0,
    "EstimatedSalary": 50000.0,
}  # fmt: skip


@pytest.fixture
def signed(tmp_path: Path, bundle_dir: Path, signing_keys: dict) -> Path:
    return signed_copy(bundle_dir, tmp_path / "model", signing_keys["trusted"][0])


def test_valid_signature_is_served_and_described(signed: Path, signing_keys: dict) -> None:
    predictor = Predictor.from_bundle(signed, trusted_keys=[signing_keys["trusted"][1]])
    assert predictor.signature.verified
    assert predictor.describe()["signature"]["status"] == "verified"
    assert predictor.describe()["signature"]["key_fingerprint"].startswith("sha256:")
    assert 0 <= predictor.predict([CUSTOMER])[0].churn_probability <= 1


def test_attacker_rewriting_model_and_manifest_is_refused(signed: Path, signing_keys: dict) -> None:
    forge_bundle(signed)
    # Without a trusted key the forged bundle passes the checksums: what the signature is for.
    forged = Predictor.from_bundle(signed, trusted_keys=[])
    assert not forged.signature.verified
    with pytest.raises(SignatureError, match=r"changed since signing: manifest\.json, model\.txt"):
        Predictor.from_bundle(signed, trusted_keys=[signing_keys["trusted"][1]])


def test_signed_by_another_key_is_refused(signed: Path, signing_keys: dict) -> None:
    with pytest.raises(SignatureError, match="no valid signature by a trusted key"):
        Predictor.from_bundle(signed, trusted_keys=[signing_keys["other"][1]])
    # Any one of several trusted keys is enough.
    both = [signing_keys["other"][1], signing_keys["trusted"][1]]
    assert Predictor.from_bundle(signed, trusted_keys=both).signature.verified


def test_removed_signature_is_refused(signed: Path, signing_keys: dict) -> None:
    (signed / SIGNATURE_FILE).unlink()
    with pytest.raises(SignatureError, match="not signed"):
        Predictor.from_bundle(signed, trusted_keys=[signing_keys["trusted"][1]])


def test_refused_before_any_model_file_is_parsed(signed: Path, signing_keys: dict) -> None:
    (signed / "model.txt").write_text("not a booster")
    (signed / "manifest.json").write_text("not json")
    with pytest.raises(SignatureError):  # a parse error would be a plain BundleError
        Predictor.from_bundle(signed, trusted_keys=[signing_keys["trusted"][1]])


def test_environment_sets_the_policy(
    signed: Path,
    signing_keys: dict,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(TRUST_ENV, f"{signing_keys['other'][1]}, {signing_keys['trusted'][1]}")
    assert Predictor.from_bundle(signed).signature.verified
    monkeypatch.setenv(TRUST_ENV, signing_keys["trusted"][1].read_text())  # inline PEM
    assert Predictor.from_bundle(signed).signature.verified
    monkeypatch.setenv(TRUST_ENV, str(signed / "no-such-key.pub"))
    with pytest.raises(SignatureError, match="unreadable"):
        Predictor.from_bundle(signed)
    monkeypatch.delenv(TRUST_ENV)
    with caplog.at_level("WARNING"):
        predictor = Predictor.from_bundle(signed)
    assert predictor.describe()["signature"] == {
        "status": "unsigned",
        "verified": False,
        "key_fingerprint": None,
    }
    assert "no trusted public keys configured" in caplog.text


def test_drift_reference_bundle_follows_the_policy(
    signed: Path, signing_keys: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TRUST_ENV, str(signing_keys["trusted"][1]))
    assert len(read_reference(signed)) > 0
    monkeypatch.setenv(TRUST_ENV, str(signing_keys["other"][1]))
    with pytest.raises(BundleError):
        read_reference(signed)


def test_commands(tmp_path: Path, bundle_dir: Path, signing_keys: dict, capsys) -> None:
    model = Path(shutil.copytree(bundle_dir, tmp_path / "model"))
    private, public = signing_keys["trusted"]
    assert main(["verify", "--model-dir", str(model), "--public-key", str(public)]) == 1
    assert main(["sign", "--model-dir", str(model), "--private-key", str(private)]) == 0
    assert main(["verify", "--model-dir", str(model), "--public-key", str(public)]) == 0
    other = ["verify", "--model-dir", str(model), "--public-key", str(signing_keys["other"][1])]
    assert main(other) == 1
    forge_bundle(model)
    assert main(["verify", "--model-dir", str(model), "--public-key", str(public)]) == 1
    assert "REFUSED" in capsys.readouterr().err


def test_train_signs_what_it_writes(
    tmp_path: Path, signing_keys: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "model"
    args = ["train", "--out", str(out), "--quick", "--rows", "2000", "--sign-key"]
    assert main([*args, str(signing_keys["trusted"][0])]) == 0
    monkeypatch.setenv(TRUST_ENV, str(signing_keys["trusted"][1]))
    assert main(["score", "--model-dir", str(out), "--data", str(_data(tmp_path)), "--out",
                 str(tmp_path / "scores.csv")]) == 0  # fmt: skip
    monkeypatch.setenv(TRUST_ENV, str(signing_keys["other"][1]))
    assert main(["score", "--model-dir", str(out), "--data", str(_data(tmp_path)), "--out",
                 str(tmp_path / "scores.csv")]) == 2  # fmt: skip


def _data(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    if not path.exists():
        assert main(["generate", "--rows", "200", "--out", str(path)]) == 0
    return path
