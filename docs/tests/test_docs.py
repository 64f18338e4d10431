"""Every shell command in the managed-ML docs works: run offline, or parsed by its own CLI.

The rules are in docs/check_docs.py. The negative tests below show the check bites: a renamed
flag, a missing variable, an unknown program or a piped command fail it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

DOCS_DIR = Path(__file__).resolve().parents[1]


def _load_check_docs():
    if "check_docs" in sys.modules:
        return sys.modules["check_docs"]
    spec = importlib.util.spec_from_file_location("check_docs", DOCS_DIR / "check_docs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_docs"] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


check_docs = _load_check_docs()
DocCheckError = check_docs.DocCheckError


def _doc_id(path: Path) -> str:
    return str(path.relative_to(DOCS_DIR.parent))


@pytest.mark.parametrize("doc", check_docs.DOCS, ids=_doc_id)
def test_every_command_is_covered_by_a_rule(doc: Path) -> None:
    commands = check_docs.extract_commands(doc)
    assert commands, f"{doc.name} shows no command in a ```bash block"
    modes = {check_docs.classify(command) for command in commands}
    assert modes <= {"run", "parse", "static", "env", "setup"}


@pytest.mark.slow
@pytest.mark.parametrize("doc", check_docs.DOCS, ids=_doc_id)
def test_every_command_works(doc: Path) -> None:
    outcomes = check_docs.check_document(doc)
    commands = check_docs.extract_commands(doc)
    assert len(outcomes) == len(commands)
    # Cloud commands may only be parsed; everything else in the guide really runs.
    ran = [o for o in outcomes if o.mode == "run"]
    assert ran, f"nothing in {doc.name} was run for real"


@pytest.mark.slow
@pytest.mark.fresh_clone
@pytest.mark.parametrize("doc", check_docs.READMES, ids=_doc_id)
def test_the_readmes_work_in_a_fresh_clone(doc: Path) -> None:
    """A newcomer's path: the committed tree cloned, synced only as the page says, each
    `uv run --package … --extra …` in its own environment; a missing extra or file fails."""
    outcomes = check_docs.check_document(doc, fresh=True)
    assert len(outcomes) == len(check_docs.extract_commands(doc))


# ---- the check itself: each of these must be refused


def _check_text(text: str) -> list:
    return check_docs.check_document(DOCS_DIR / "fake.md", text)


def _bash(*lines: str) -> str:
    return "```bash\n" + "\n".join(lines) + "\n```\n"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "uv run --package sagemaker-handler sagemaker-handler autoscale --minimum 1",
            "unrecognized arguments: --minimum",
        ),
        (
            "uv run --package vertex-predictor vertex-predictor deploy --model m --traffic 10",
            "unrecognized arguments: --traffic 10",
        ),
        (  # a prefix of a real flag: argparse would accept it, the check does not
            "uv run --package vertex-predictor vertex-predictor deploy --model m --min-rep 2",
            "unrecognized arguments: --min-rep",
        ),
        (
            "uv run --package churn-core churn-core generate --row 10 --out artifacts/x.csv",
            "unrecognized arguments: --row",
        ),
        (
            "uv run --package vertex-predictor vertex-predictor status",
            "needs project",
        ),
        (
            "uv run --package sagemaker-handler sagemaker-handler deploy --model x.tar.gz",
            "needs role_arn, bucket",
        ),
        (
            "uv run --package sagemaker-handler sagemaker-handler test --content-type text/xml",
            "invalid choice",
        ),
        ("aws sagemaker list-endpoints", "no rule covers 'aws'"),
        ("uv run --package churn-core churn-core --help | head", "one simple command per line"),
        ("uv run --package churn-api churn-api --help", "not a workspace member"),
        ("curl -s localhost:8080/ping", "no server was started on port 8080"),
        (
            "uv run --package churn-core churn-core evaluate --model-dir artifacts/m --data x.csv",
            "does not exist",
        ),
        (
            "docker build -f services/serving-api/Dockerfile --build-arg BASE=x -t a:1 .",
            "declares no ARG BASE",
        ),
        ("docker build -f services/serving-api/Dockerfile -t a:latest .", "never :latest"),
        ("docker push a:1", "not built above"),
        ("uv run python benchmarks/paths_bench.py --cold-starts 3", "exit status 2"),
        ("uv run kubectl apply -k infra/k8s/overlays/aks", "exit status 1"),
        ("kubectl apply -k infra/k8s/overlays/gke", "use `uv run kubectl"),
        ("promtool test rules infra/monitoring/tests/*.tests.yml", "no such file"),
        ("promtool check rules infra/monitoring/tests/serving.test.yml", "exit status 1"),
    ],
)
def test_the_check_refuses(line: str, message: str) -> None:
    with pytest.raises(DocCheckError, match=message.replace("(", r"\(").replace("|", r"\|")):
        _check_text(_bash(line))


def test_cloud_commands_must_not_reach_a_parse_of_missing_artifacts() -> None:
    text = _bash(
        "export SAGEMAKER_ROLE_ARN=arn:aws:iam::1:role/r SAGEMAKER_BUCKET=b",
        "uv run --package sagemaker-handler sagemaker-handler deploy"
        " --model artifacts/model.tar.gz",
    )
    with pytest.raises(DocCheckError, match="no earlier command makes it"):
        _check_text(text)


def test_exports_and_expected_outcomes_are_understood() -> None:
    text = _bash(
        "export GOOGLE_CLOUD_PROJECT=p",
        "uv run --package vertex-predictor vertex-predictor status --endpoint e   # parsed",
        "infra/sagemaker/setup-role.sh --bucket b --dry-run",
    )
    outcomes = _check_text(text)
    assert [o.mode for o in outcomes] == ["env", "parse", "run"]


def test_other_shell_fences_are_refused() -> None:
    with pytest.raises(DocCheckError, match="use ```bash"):
        check_docs.extract_commands(DOCS_DIR / "fake.md", "```sh\nls\n```\n")


def test_continuations_quotes_and_comments_are_joined() -> None:
    text = (
        "```bash\n"
        "curl -s localhost:8080/x \\\n"
        '  -d \'{"a": 1,\n'
        '       "b": "#not a comment"}'
        "'   # HTTP 400\n"
        "```\n"
    )
    [command] = check_docs.extract_commands(DOCS_DIR / "fake.md", text)
    assert command.words[-1] == '{"a": 1,\n       "b": "#not a comment"}'
    assert command.expected_http() == 400
    assert command.line == 2
