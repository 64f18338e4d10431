"""A real serving-api process whose capture volume fills up or is read-only: every prediction is
still answered, lost records are counted and logged once, no line is torn, and capture resumes
by itself when the volume takes writes again. And one killed with SIGKILL under load.

The volume is a small tmpfs mounted for the test, which needs root (CI runs as root); elsewhere
the tests skip and say so. A volume turned read-only while a capture file is open cannot be
injected here: the kernel refuses that remount (EBUSY) while a file is open for writing. The
writer sees the same OSError on its next write as in the read-only-at-start case tested below.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from churn_testing import ServerProcess

from .conftest import CUSTOMER, start_server

WRITTEN, DROPPED = "serving_capture_records_total", "serving_capture_dropped_total"
FAILING = "capture writes failing"
RESUMED = "capture writes resumed"


def mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def volume(tmp_path: Path) -> Iterator[Path]:
    """A 192 KiB tmpfs, unmounted after the test."""
    where = tmp_path / "volume"
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8) (CI runs as root)")
    result = mount("-t", "tmpfs", "-o", "size=192k,mode=0755", "tmpfs", str(where))
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def metrics(server: ServerProcess, *names: str) -> tuple[float, ...]:
    """The value of each unlabelled metric in ``names``, all from one scrape."""
    lines = httpx.get(f"{server.url}/metrics", timeout=5).text.splitlines()
    return tuple(
        sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(name + " "))
        for name in names
    )


def metric(server: ServerProcess, name: str) -> float:
    return metrics(server, name)[0]


def wait_metric(server: ServerProcess, name: str, at_least: float, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while (value := metric(server, name)) < at_least:
        assert time.monotonic() < deadline, f"{name} stayed at {value} (wanted {at_least})"
        time.sleep(0.1)
    return value


def predict(server: ServerProcess, count: int) -> None:
    """``count`` predictions, each answered 200 whatever the capture volume does."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for i in range(count):
            response = client.post("/predict", json={**CUSTOMER, "Age": 18 + i % 70})
            assert response.status_code == 200, response.text


def capture_lines(directory: Path) -> list[bytes]:
    return [
        line
        for path in sorted(directory.glob("*.jsonl"))
        for line in path.read_bytes().split(b"\n")
        if line
    ]


def messages(output: str) -> list[str]:
    return [json.loads(line)["message"] for line in output.splitlines() if line.startswith("{")]


def serve(bundle_dir: Path, capture: Path) -> ServerProcess:
    server = start_server(
        "--model-dir", str(bundle_dir), "--capture-dir", str(capture),
        env={"SERVING_CAPTURE_FSYNC_SECONDS": "0.2"},
    )  # fmt: skip
    server.wait_ready(120)
    return server


def test_a_full_volume_drops_counts_and_recovers(volume: Path, bundle_dir: Path) -> None:
    filler = volume / "filler"
    filler.write_bytes(b"x" * (160 * 1024))  # about 32 KiB left: room for some 70 records
    capture = volume / "capture"
    server = serve(bundle_dir, capture)
    try:
        predict(server, 300)
        deadline = time.monotonic() + 30
        while sum(settled := metrics(server, WRITTEN, DROPPED)) < 300:  # queue drained
            assert time.monotonic() < deadline, settled
            time.sleep(0.1)
        written, dropped = settled
        assert written + dropped == 300
        assert written > 0 and dropped > 0

        filler.unlink()  # space comes back: writing resumes without a restart
        predict(server, 50)
        wait_metric(server, WRITTEN, written + 50)
        assert metric(server, DROPPED) == dropped
        assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200
    finally:
        server.stop()
    said = messages(server.output())
    assert sum(m.startswith(FAILING) for m in said) == 1, said  # not once per lost batch
    assert sum(m.startswith(RESUMED) for m in said) == 1, said
    lines = capture_lines(capture)
    assert len(lines) == written + 50
    for line in lines:  # no torn record anywhere: a failed write was cut back
        assert json.loads(line)["model_version"]


def test_a_read_only_volume_serves_and_resumes_when_writable(
    volume: Path, bundle_dir: Path
) -> None:
    assert mount("-o", "remount,ro", str(volume)).returncode == 0
    capture = volume / "capture"  # cannot even be created yet
    server = serve(bundle_dir, capture)
    try:
        predict(server, 20)
        wait_metric(server, DROPPED, 20)
        assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200

        result = mount("-o", "remount,rw", str(volume))
        assert result.returncode == 0, result.stderr
        predict(server, 30)
        wait_metric(server, WRITTEN, 30)
    finally:
        server.stop()
    said = messages(server.output())
    assert sum(m.startswith(FAILING) for m in said) == 1, said
    assert any("Read-only file system" in m for m in said if m.startswith(FAILING)), said
    assert len(capture_lines(capture)) == 30


def test_sigkill_under_load_leaves_whole_lines_that_drift_reads(
    tmp_path: Path, bundle_dir: Path
) -> None:
    """Killed with no chance to drain: the files hold whole records up to the crash (at most a
    torn last line), and what is lost was answered within the writer's flush interval of the
    kill, not seconds before it."""
    from churn_core import drift

    capture = tmp_path / "capture"
    server = start_server("--model-dir", str(bundle_dir), "--capture-dir", str(capture))
    server.wait_ready(120)
    answered: dict[str, float] = {}
    stop = threading.Event()

    def load(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            for i in itertools.count():
                if stop.is_set():
                    return
                request_id = f"kill-{worker}-{i}"
                try:
                    response = client.post(
                        "/predict", json=CUSTOMER, headers={"X-Request-ID": request_id}
                    )
                except httpx.HTTPError:
                    return  # the server is gone
                if response.status_code == 200:
                    answered[request_id] = time.monotonic()

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while len(answered) < 400:  # under load for a while
            assert time.monotonic() < deadline, "the server answered too few requests"
            time.sleep(0.05)
        os.kill(server.pid, signal.SIGKILL)
        killed = time.monotonic()
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
        server.stop()
    torn = 0
    captured: set[str] = set()
    for path in sorted(capture.glob("*.jsonl")):
        lines = path.read_bytes().split(b"\n")
        for index, line in enumerate(lines):
            try:
                captured.add(json.loads(line)["request_id"])
            except ValueError:
                assert index == len(lines) - 1, f"torn line in the middle of {path.name}"
                torn += line != b""
    assert all(r.startswith("kill-") for r in captured)  # (in-flight ones may be captured too)
    lost = [answered[r] for r in set(answered) - captured]
    # The writer drains every 50 ms; 2 s leaves room for a loaded CI machine.
    assert all(killed - at < 2.0 for at in lost), f"lost answers from {killed - min(lost):.2f} s"
    window = max((killed - at for at in lost), default=0.0)
    print(
        f"SIGKILL: {len(answered)} answered, {len(lost)} lost (oldest {window:.3f} s), {torn} torn"
    )
    current = drift.read_current(capture)
    assert len(current) == len(captured)
    assert current.attrs["torn_lines"] == torn
