"""`sagemaker-handler` arguments: the region follows boto3's chain; --help shows defaults."""

from __future__ import annotations

import pytest

from sagemaker_handler import cli


@pytest.fixture
def no_region(monkeypatch: pytest.MonkeyPatch, tmp_path):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return tmp_path / "config"


def test_the_region_comes_from_the_profile_when_not_given(no_region, monkeypatch):
    no_region.write_text("[profile churn]\nregion = ap-southeast-2\n")
    monkeypatch.setenv("AWS_PROFILE", "churn")
    assert cli.resolve_region(None) == "ap-southeast-2"
    monkeypatch.setenv("AWS_REGION", "us-east-2")  # the environment wins over the profile
    assert cli.resolve_region(None) == "us-east-2"
    assert cli.resolve_region("eu-central-1") == "eu-central-1"


def test_no_region_anywhere_is_one_line_not_a_silent_default(no_region, capsys):
    with pytest.raises(SystemExit, match="no AWS region"):
        cli.main(["status", "--dry-run"])


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["deploy", "--help"])
    out = capsys.readouterr().out
    assert "default: ml.m5.large" in out and "default: churn-endpoint" in out
