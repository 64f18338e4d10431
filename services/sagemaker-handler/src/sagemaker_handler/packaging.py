"""model.tar.gz for the AWS scikit-learn framework container.

Layout: the bundle's files at the root (SageMaker extracts them to /opt/ml/model), then
``code/inference.py``, ``code/requirements.txt``, the churn-core wheel and ``code/runtime.json``
(the framework image the tarball targets). The container runs ``pip install -r requirements.txt``
inside the code directory, so the wheel is referenced by a relative path and needs no index.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from churn_core import Predictor
from churn_core.signing import SIGNATURE_FILE

# AWS scikit-learn images the tarball is served on by tests/test_framework_stack.py (their
# requirements.txt from aws/sagemaker-scikit-learn-container, at the commit named): the oldest
# and the newest we claim. churn-core serves with numpy, lightgbm, pydantic and orjson only, so the
# image's scikit-learn is never called; numpy is the one package we share with the image.
SUPPORTED_IMAGES: list[dict[str, Any]] = [
    {
        "image": "1.4-2",
        "python": "3.10",
        "image_packages": {"numpy": "2.1.0", "scikit-learn": "1.4.2"},
        "source": "aws/sagemaker-scikit-learn-container@5efefe7 docker/1.4-2",
    },
    {
        "image": "1.4-2-py312",
        "python": "3.12",
        "image_packages": {"numpy": "2.5.1", "scikit-learn": "1.9.0"},
        "source": "aws/sagemaker-scikit-learn-container@eae7b6b docker/1.4-2-py312",
    },
]
# The image deploy targets by default: sagemaker-scikit-learn:1.4-2-cpu-py3, the oldest supported.
TARGET_RUNTIME: dict[str, Any] = {
    "framework": "sklearn",
    "framework_version": SUPPORTED_IMAGES[0]["image"],
    "python": SUPPORTED_IMAGES[0]["python"],
    "image_packages": SUPPORTED_IMAGES[0]["image_packages"],
    "sagemaker_program": "inference.py",
    "supported_images": SUPPORTED_IMAGES,
}
CODE_DIR = "code"
RUNTIME_FILE = "runtime.json"
# Pinned in requirements.txt: the booster text format is read by the lightgbm that wrote it.
PINNED = ("lightgbm", "pydantic")
# A signed bundle (model.sig in the tarball) is verified by model_fn when trusted keys are set:
# the wheel's [signing] extra, pinned to the versions verified here (all support Python 3.10).
SIGNING_PINNED = ("model-signing", "pyopenssl")


@dataclass(frozen=True)
class PackageResult:
    path: Path
    size_bytes: int
    model_version: str
    wheel: str
    requirements: list[str]


def inference_source() -> bytes:
    return (resources.files("sagemaker_handler") / CODE_DIR / "inference.py").read_bytes()


def find_workspace_root(start: Path | None = None) -> Path:
    here = (start or Path(__file__)).resolve()
    for candidate in (here, *here.parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and "[tool.uv.workspace]" in pyproject.read_text("utf-8"):
            return candidate
    raise FileNotFoundError("no uv workspace found above " + str(here) + "; pass --wheel")


def build_core_wheel(out_dir: Path, workspace: Path | None = None) -> Path:
    root = workspace or find_workspace_root()
    out_dir.mkdir(parents=True, exist_ok=True)
    command = ["uv", "build", "--package", "churn-core", "--wheel", "--out-dir", str(out_dir)]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"building the churn-core wheel failed:\n{done.stderr.strip()}")
    wheels = sorted(out_dir.glob("churn_core-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one churn-core wheel in {out_dir}, found {len(wheels)}")
    return wheels[0]


def requirements_for(manifest: dict[str, Any], wheel_name: str, signed: bool = False) -> list[str]:
    trained_with = manifest.get("library_versions") or {}
    pins = [f"{name}=={trained_with.get(name) or metadata.version(name)}" for name in PINNED]
    if not signed:
        return [f"./{wheel_name}", *pins]
    pins += [f"{name}=={metadata.version(name)}" for name in SIGNING_PINNED]
    return [f"./{wheel_name}[signing]", *pins]


def package_model(
    model_dir: str | Path, out: str | Path, wheel: Path | None = None
) -> PackageResult:
    """Verify the bundle loads, then write the tarball. ``wheel=None`` builds churn-core's."""
    model_dir, out = Path(model_dir), Path(out)
    predictor = Predictor.from_bundle(model_dir)  # never ship a bundle that does not load
    if (model_dir / CODE_DIR).exists():
        raise ValueError(f"{model_dir} already has a {CODE_DIR}/ entry; pass the bundle directory")
    with tempfile.TemporaryDirectory() as scratch:
        wheel = wheel or build_core_wheel(Path(scratch))
        signed = (model_dir / SIGNATURE_FILE).is_file()
        requirements = requirements_for(predictor.manifest, wheel.name, signed)
        runtime = {
            **TARGET_RUNTIME,
            "model_version": predictor.model_version,
            "churn_core_wheel": wheel.name,
            "requirements": requirements,
        }
        header = (
            f"# Installed by the SageMaker scikit-learn {TARGET_RUNTIME['framework_version']} "
            f"container (Python {TARGET_RUNTIME['python']}) with pip, from this directory.\n"
        )
        code_files = {
            "inference.py": inference_source(),
            "requirements.txt": (header + "\n".join(requirements) + "\n").encode(),
            RUNTIME_FILE: (json.dumps(runtime, indent=2) + "\n").encode(),
            wheel.name: wheel.read_bytes(),
        }
        bundle_files = sorted(p for p in model_dir.iterdir() if p.is_file())
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_tarball(
            out,
            [(p.name, p.read_bytes()) for p in bundle_files]
            + [(f"{CODE_DIR}/{name}", data) for name, data in sorted(code_files.items())],
        )
    return PackageResult(out, out.stat().st_size, predictor.model_version, wheel.name, requirements)


def _write_tarball(out: Path, members: list[tuple[str, bytes]]) -> None:
    # Fixed owners, modes and times: the same inputs give the same bytes.
    with (
        out.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        directory = tarfile.TarInfo(CODE_DIR)
        directory.type, directory.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(directory)
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))


def read_runtime(tarball: str | Path) -> dict[str, Any]:
    """The runtime.json of a tarball (which framework image it targets)."""
    with tarfile.open(tarball, "r:gz") as tar:
        member = tar.extractfile(f"{CODE_DIR}/{RUNTIME_FILE}")
        if member is None:
            raise ValueError(f"{tarball} has no {CODE_DIR}/{RUNTIME_FILE}")
        return json.loads(member.read())


def extract_tarball(tarball: str | Path, dest: str | Path) -> Path:
    """Extract like SageMaker does into /opt/ml/model; refuses links and paths leaving dest."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as tar:
        tar.extractall(dest, filter="data")
    return dest
