from __future__ import annotations

import ast
import hashlib
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from churn_core import BundleError
from sagemaker_handler.packaging import inference_source, package_model, read_runtime


def members(tarball: Path) -> dict[str, bytes]:
    with tarfile.open(tarball, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_layout_model_files_at_root_and_code_dir(tarball: Path, bundle_dir: Path, core_wheel):
    files = members(tarball)
    bundle_files = {p.name for p in bundle_dir.iterdir() if p.is_file()}
    assert {n for n in files if "/" not in n} == bundle_files
    assert {n for n in files if n.startswith("code/")} == {
        "code/inference.py", "code/requirements.txt", "code/runtime.json",
        f"code/{core_wheel.name}",
    }  # fmt: skip
    for name in bundle_files:
        assert files[name] == (bundle_dir / name).read_bytes()
    assert files["code/inference.py"] == inference_source()


def test_requirements_install_the_vendored_wheel_and_pin_the_trained_lightgbm(
    tarball: Path, bundle_dir: Path, core_wheel: Path
):
    lines = [
        line
        for line in members(tarball)["code/requirements.txt"].decode().splitlines()
        if line and not line.startswith("#")
    ]
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    assert lines[0] == f"./{core_wheel.name}"
    assert f"lightgbm=={manifest['library_versions']['lightgbm']}" in lines
    assert not any(line.startswith(("numpy", "scikit-learn")) for line in lines)


def test_runtime_records_the_target_framework_image(tarball: Path, predictor):
    runtime = read_runtime(tarball)
    assert runtime["framework"] == "sklearn"
    assert runtime["framework_version"] == "1.4-2"
    assert runtime["python"] == "3.10"
    assert runtime["image_packages"] == {"numpy": "2.1.0", "scikit-learn": "1.4.2"}
    assert runtime["model_version"] == predictor.model_version


def test_vendored_wheel_needs_only_numpy_lightgbm_pydantic_orjson(core_wheel: Path):
    """What pip installs beside the framework image: nothing pandas- or sklearn-sized."""
    with zipfile.ZipFile(core_wheel) as wheel:
        (metadata_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = wheel.read(metadata_name).decode()
    assert "Requires-Python: >=3.10" in metadata
    required = {
        line.split(":", 1)[1].strip().split(">")[0].split("=")[0].split("<")[0].strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }
    assert required == {"numpy", "lightgbm", "pydantic", "orjson"}


def test_inference_py_parses_as_python_3_10():
    ast.parse(inference_source(), feature_version=(3, 10))


def test_same_inputs_give_the_same_bytes(bundle_dir: Path, core_wheel: Path, tmp_path: Path):
    first = package_model(bundle_dir, tmp_path / "a.tar.gz", wheel=core_wheel).path
    second = package_model(bundle_dir, tmp_path / "b.tar.gz", wheel=core_wheel).path
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (first, second)]
    assert digest[0] == digest[1]


def test_a_tampered_bundle_is_not_packaged(bundle_dir: Path, core_wheel: Path, tmp_path: Path):
    copy = Path(shutil.copytree(bundle_dir, tmp_path / "model"))
    with (copy / "model.txt").open("ab") as handle:
        handle.write(b"\n")
    with pytest.raises(BundleError, match="checksum mismatch"):
        package_model(copy, tmp_path / "out.tar.gz", wheel=core_wheel)
    assert not (tmp_path / "out.tar.gz").exists()


def test_a_dir_that_already_has_code_is_refused(bundle_dir: Path, core_wheel, tmp_path: Path):
    copy = Path(shutil.copytree(bundle_dir, tmp_path / "model"))
    (copy / "code").mkdir()
    with pytest.raises(ValueError, match="code/"):
        package_model(copy, tmp_path / "out.tar.gz", wheel=core_wheel)


def test_package_command_builds_the_wheel_itself(bundle_dir: Path, tmp_path: Path, capsys):
    from sagemaker_handler import cli

    out = tmp_path / "model.tar.gz"
    assert cli.main(["package", "--model-dir", str(bundle_dir), "--out", str(out)]) == 0
    assert "churn_core-" in capsys.readouterr().out
    assert any(n.startswith("code/churn_core-") for n in members(out))
