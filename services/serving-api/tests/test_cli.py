"""The CLI's first-start training step (training itself is churn-core's and tested there)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from serving_api import cli


def test_trains_into_a_staging_dir_then_renames(
    tmp_path: Path, bundle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "artifacts" / "model"
    commands = []

    def fake_train(command: list[str]) -> int:
        commands.append(command)
        staging = Path(command[command.index("--out") + 1])
        assert staging.parent == target.parent and staging != target
        shutil.copytree(bundle_dir, staging, dirs_exist_ok=True)
        return 0

    monkeypatch.setattr(subprocess, "call", fake_train)
    umask = os.umask(0o022)  # the usual one; the bundle directory follows it
    try:
        assert cli.train_default_model(target) == 0
    finally:
        os.umask(umask)
    assert (target / "manifest.json").is_file()
    assert commands[0][1:4] == ["-m", "churn_core.cli", "train"]
    assert [p.name for p in target.parent.iterdir()] == ["model"]
    # Not mkdtemp's 0700: the image's user (uid 10001) must read a mounted bundle.
    assert target.stat().st_mode & 0o055 == 0o055


def test_failed_training_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "artifacts" / "model"
    monkeypatch.setattr(subprocess, "call", lambda command: 3)
    assert cli.train_default_model(target) == 3
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_grpc_port_flag_and_its_missing_extra(
    bundle_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.parse_args(["--grpc-port", "8081"])["grpc_port"] == 8081
    # Without grpcio (the `grpc` extra), --grpc-port is a clear exit 2, not a traceback later.
    monkeypatch.setitem(sys.modules, "grpc", None)
    assert cli.main(["--model-dir", str(bundle_dir), "--grpc-port", "8081"]) == 2
    assert "install serving-api[grpc]" in capsys.readouterr().err


def test_empty_grpc_port_variable_means_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from serving_api.config import Settings

    monkeypatch.setenv("SERVING_GRPC_PORT", "")
    assert Settings().grpc_port is None
    monkeypatch.setenv("SERVING_GRPC_PORT", "9001")
    assert Settings().grpc_port == 9001
