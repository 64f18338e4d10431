"""The `churn-core` command as a newcomer meets it: missing extras, request bodies, summaries."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import churn_core
from churn_core.cli import main
from churn_core.data import generate, write_frame
from churn_core.schema import FEATURE_NAMES


@pytest.mark.parametrize(
    ("module", "command", "extra"),
    [
        ("pandas", ["generate", "--rows", "5", "--out", "x.csv"], "data"),
        ("sklearn", ["train", "--quick", "--rows", "500"], "train"),
        ("scipy", ["drift", "--reference", "r.csv", "--current", "c.csv"], "drift"),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(
    monkeypatch, capsys, tmp_path, module, command, extra
):
    monkeypatch.chdir(tmp_path)
    write_frame(generate(200, seed=1), tmp_path / "r.csv")
    write_frame(generate(200, seed=2), tmp_path / "c.csv")
    for name in [n for n in sys.modules if n == module or n.startswith(f"{module}.")]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it now fails as if absent
    monkeypatch.setitem(sys.modules, module, None)
    for name in ("drift", "training"):  # re-imported, so they meet the missing module
        monkeypatch.delitem(sys.modules, f"churn_core.{name}", raising=False)
        monkeypatch.delattr(churn_core, name, raising=False)
    assert main(command) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"churn-core {command[0]}: {module} is not installed")
    assert f"--extra {extra} churn-core {command[0]}" in line


def test_request_bodies_are_what_the_services_take(tmp_path: Path):
    one, many = tmp_path / "customer.json", tmp_path / "batch.json"
    assert main(["generate", "--rows", "1", "--request-body", "--out", str(one)]) == 0
    assert main(["generate", "--rows", "3", "--request-body", "--out", str(many)]) == 0
    assert set(json.loads(one.read_text())) == set(FEATURE_NAMES)
    instances = json.loads(many.read_text())["instances"]
    assert len(instances) == 3 and all(set(i) == set(FEATURE_NAMES) for i in instances)
    rows = tmp_path / "batch.csv"  # SageMaker text/csv: no header, ten columns, no label
    assert main(["generate", "--rows", "3", "--request-body", "--out", str(rows)]) == 0
    assert [len(line.split(",")) for line in rows.read_text().splitlines()] == [10, 10, 10]


def test_drift_without_json_prints_a_short_summary(bundle_dir: Path, tmp_path, capsys):
    current = tmp_path / "current.csv"
    write_frame(generate(1_000, seed=8, drift=0.5), current)
    assert main(["drift", "--reference", str(bundle_dir), "--current", str(current)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) <= 1 + len(FEATURE_NAMES) + 1
    assert any(line.startswith("Age ") and line.endswith("YES") for line in out)
    assert main(["drift", "--reference", str(bundle_dir), "--current", str(current), "--json", "-"])
    assert json.loads(capsys.readouterr().out)["drift"] is True
