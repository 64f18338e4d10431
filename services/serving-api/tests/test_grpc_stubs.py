"""The committed gRPC stubs are what scripts/generate_grpc.sh makes from the vendored proto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SERVICE = Path(__file__).parents[1]
GENERATED = SERVICE / "src" / "serving_api" / "grpc_gen"


def test_stubs_are_generated_from_the_vendored_proto(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    # The script's command, with the output in a temporary directory.
    subprocess.run(
        [
            sys.executable, "-m", "grpc_tools.protoc",
            "-Iserving_api/grpc_gen=spec/open-inference-protocol",
            f"--python_out={tmp_path}", f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}",
            "serving_api/grpc_gen/open_inference_grpc.proto",
        ],
        cwd=SERVICE,
        check=True,
    )  # fmt: skip
    script = (SERVICE / "scripts" / "generate_grpc.sh").read_text()
    assert "-Iserving_api/grpc_gen=spec/open-inference-protocol" in script
    made = sorted(p.name for p in (tmp_path / "serving_api" / "grpc_gen").iterdir())
    assert made == sorted(p.name for p in GENERATED.glob("*_pb2*"))
    for name in made:
        fresh = (tmp_path / "serving_api" / "grpc_gen" / name).read_text()
        assert fresh == (GENERATED / name).read_text(), f"{name} is stale: run the script"
