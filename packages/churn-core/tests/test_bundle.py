import json
import pickle
import shutil
from pathlib import Path

import pytest

from churn_core import BundleError, Predictor
from churn_core.bundle import MANIFEST, MODEL_FILE, bundle_digest, sha256_file


@pytest.fixture
def copy(bundle_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle_dir, tmp_path / "copy"))


def _rewrite_checksums(bundle: Path) -> None:
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["files"] = {name: sha256_file(bundle / name) for name in manifest["files"]}
    (bundle / MANIFEST).write_text(json.dumps(manifest))


def test_manifest_has_the_contract_fields(bundle_dir: Path):
    manifest = json.loads((bundle_dir / MANIFEST).read_text())
    for key in ("model_version", "created_at", "feature_schema", "decision_threshold", "metrics"):
        assert key in manifest
    assert set(manifest["files"]) == {p.name for p in bundle_dir.iterdir()} - {MANIFEST}
    assert manifest["library_versions"]["lightgbm"]
    assert manifest["metrics"]["served_vs_trained_max_abs_diff"] <= 1e-6


@pytest.mark.parametrize("name", [MODEL_FILE, "background.json", "reference.csv"])
def test_a_flipped_byte_is_refused(copy: Path, name: str):
    data = bytearray((copy / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / name).write_bytes(bytes(data))
    with pytest.raises(BundleError, match=f"checksum mismatch for {name}"):
        Predictor.from_bundle(copy)


def test_a_truncated_file_is_refused(copy: Path):
    model = copy / MODEL_FILE
    model.write_bytes(model.read_bytes()[:1000])
    with pytest.raises(BundleError, match="checksum"):
        Predictor.from_bundle(copy)


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def test_a_pickle_crafted_to_run_code_is_refused_without_running(copy: Path, tmp_path: Path):
    marker = tmp_path / "side-effect"
    payload = pickle.dumps(_Exploit(marker))
    (copy / MODEL_FILE).write_bytes(payload)
    (copy / "model.pkl").write_bytes(payload)
    # The attacker controls the manifest too: checksums match their files.
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["files"]["model.pkl"] = ""
    (copy / MANIFEST).write_text(json.dumps(manifest))
    _rewrite_checksums(copy)
    with pytest.raises(BundleError):
        Predictor.from_bundle(copy)
    assert not marker.exists()


def test_a_foreign_directory_is_refused(tmp_path: Path):
    (tmp_path / "model.joblib").write_bytes(b"not ours")
    with pytest.raises(BundleError, match=r"no manifest\.json"):
        Predictor.from_bundle(tmp_path)
    with pytest.raises(BundleError, match="not found"):
        Predictor.from_bundle(tmp_path / "nope")


def test_another_format_version_is_refused(copy: Path):
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["format_version"] = 99
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="unsupported bundle format 99"):
        Predictor.from_bundle(copy)


def test_another_feature_schema_is_refused(copy: Path):
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["feature_schema"][0]["maximum"] = 850
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="different feature schema"):
        Predictor.from_bundle(copy)


def test_a_file_outside_the_bundle_is_refused(copy: Path):
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["files"]["../escape.txt"] = "0" * 64
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="outside the bundle"):
        Predictor.from_bundle(copy)


def test_a_bundle_built_with_other_model_features_is_refused(copy: Path):
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["model_features"] = manifest["model_features"][:-1]
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="other model features"):
        Predictor.from_bundle(copy)


def test_the_bundle_digest_names_the_content_not_the_place(bundle_dir: Path, copy: Path):
    assert bundle_digest(copy) == bundle_digest(bundle_dir)
    assert Predictor.from_bundle(copy).describe()["bundle_digest"] == bundle_digest(bundle_dir)
    with (copy / "reference.csv").open("a") as handle:
        handle.write("\n")
    _rewrite_checksums(copy)  # a rebuilt bundle that differs in one file
    assert bundle_digest(copy) != bundle_digest(bundle_dir)
    assert Predictor.from_bundle(copy).bundle_digest == bundle_digest(copy)
