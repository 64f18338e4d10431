"""`vertex-predictor` argument handling: --dry-run calls nothing; an unreachable API is one line."""

from __future__ import annotations

import json
import socket

import pytest

from vertex_predictor import cli


def _closed_port() -> int:
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_api_is_one_line_not_a_traceback(capsys):
    url = f"http://127.0.0.1:{_closed_port()}"
    assert cli.main(["status", "--project", "p", "--api-endpoint", url]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"vertex-predictor status: cannot reach the Vertex API at {url}")


def test_dry_run_prints_the_call_and_makes_none(capsys):
    url = f"http://127.0.0.1:{_closed_port()}"  # any real call would fail
    args = ["deploy", "--project", "p", "--api-endpoint", url, "--model", "m", "--dry-run"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    shown = json.loads(out.split("[dry-run] deploy.deploy_model(", 1)[1].rsplit(")", 1)[0])
    assert shown["model_ref"] == "m" and shown["min_replicas"] == 1
    assert shown["target"]["project"] == "p"


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["deploy", "--help"])
    assert "(default: 2)" in capsys.readouterr().out
