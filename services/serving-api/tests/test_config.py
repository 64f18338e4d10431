from pathlib import Path

import pytest
from pydantic import ValidationError

from serving_api.config import DEFAULT_CAPTURE_DIR, Settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SERVING_API_KEY", "CAPTURE_DIR", "MODEL_DIR", "SERVING_MODEL_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.model_dir == Path("artifacts/model")
    assert settings.capture_dir == DEFAULT_CAPTURE_DIR
    assert (settings.port, settings.workers, settings.batch_limit) == (8000, 1, 1000)
    assert settings.api_key is None
    assert "model_dir" not in settings.model_fields_set


def test_environment_names_from_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPTURE_DIR", "/data/capture")
    monkeypatch.setenv("SERVING_API_KEY", "s3cret")
    monkeypatch.setenv("SERVING_BATCH_LIMIT", "50")
    monkeypatch.setenv("SERVING_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("SERVING_MODEL_DIR", "/models/churn")
    settings = Settings()
    assert settings.capture_dir == Path("/data/capture")
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.batch_limit == 50
    assert settings.log_level == "debug"
    assert settings.model_dir == Path("/models/churn")
    assert "model_dir" in settings.model_fields_set


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVING_PORT", "9000")
    assert Settings(port=8123).port == 8123


def test_empty_api_key_means_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVING_API_KEY", "")
    assert Settings().api_key is None


@pytest.mark.parametrize(("name", "value"), [("port", 70000), ("workers", 0), ("batch_limit", 0)])
def test_bad_values_are_refused(name: str, value: int) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})
