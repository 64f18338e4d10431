"""A server started as a child process for a test or a benchmark: start, wait until an HTTP
readiness URL answers 200, stop with SIGTERM (as Kubernetes and SageMaker do), then kill."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

OUTPUT_TAIL = 4000  # characters of the server's output quoted in a failure message


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerExited(RuntimeError):
    """The server process ended before it became ready."""

    def __init__(self, name: str, returncode: int, output: str) -> None:
        tail = output[-OUTPUT_TAIL:]
        super().__init__(f"{name} exited with {returncode} before it was ready:\n{tail}")
        self.returncode = returncode
        self.output = output


class ServerNotReady(TimeoutError):
    """The readiness URL did not answer 200 in time."""


class ServerProcess:
    """One server process: ``url`` is its base URL, ``url + ready_path`` its readiness route.

    Its stdout and stderr go to one temporary file: a pipe nobody reads while the server runs
    would fill up and block it.

    ``env`` is the whole environment (default: this process's); PYTHONUNBUFFERED is always set
    so a Python server's output is complete when it is read. ``process_group=True`` starts the
    command in a session of its own and signals the whole group on stop: for a launcher such
    as ``uv run`` whose child is the actual server.
    """

    def __init__(
        self,
        command: Sequence[str | Path],
        url: str,
        ready_path: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        name: str | None = None,
        process_group: bool = False,
    ) -> None:
        self.command = [str(part) for part in command]
        self.url = url.rstrip("/")
        self.ready_url = self.url + ready_path
        self.name = name or Path(self.command[0]).name
        self.ready_seconds: float | None = None
        self._group = process_group
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed on exit or collection
        self._started = time.monotonic()
        self.process = subprocess.Popen(
            self.command,
            env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=process_group,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def output(self) -> str:
        """Everything the process has written so far (stdout and stderr interleaved)."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds from start until ``ready_url`` answered 200; raises ServerExited or
        ServerNotReady (both quoting the process's output)."""
        deadline = self._started + timeout
        # One client for all probes: a new one per probe builds an SSL context each time, CPU
        # the starting server would otherwise get.
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ServerExited(self.name, self.process.returncode, self.output())
                try:
                    if client.get(self.ready_url).status_code == 200:
                        self.ready_seconds = time.monotonic() - self._started
                        return self.ready_seconds
                except httpx.TransportError:
                    pass
                time.sleep(0.01)  # fine-grained: the benchmarks report this as cold start
        raise ServerNotReady(
            f"{self.name}: {self.ready_url} did not answer 200 within {timeout:.0f} s:\n"
            f"{self.output()[-OUTPUT_TAIL:]}"
        )

    def wait(self, timeout: float) -> int:
        """Wait for the process to end by itself; its exit code."""
        return self.process.wait(timeout=timeout)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; the exit code (negative: signal)."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def _signal(self, signum: int) -> None:
        if self._group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        self._log.close()
