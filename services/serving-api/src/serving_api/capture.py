"""Prediction capture: JSON-lines files under CAPTURE_DIR, written by one background thread.

This module is the transport (buffer, writer thread, rotation, fsync); the record format is
churn_core.capture's (``capture_record``, ``capture_lines``), the one `churn-core drift` reads.

The request path formats its records into JSON lines (``capture_lines``: orjson, ~0.6 µs a
record while the record is still in the CPU's cache) and appends the bytes to one bounded
buffer under a lock (no I/O, no thread wake-up); the writer thread wakes every
``flush_seconds`` (or at once when ``wake_records`` are waiting), takes the whole buffer, writes
and rotates files, and ``close()`` drains the buffer, flushes and fsyncs, so everything accepted
is on disk when the process exits after SIGTERM. Where the formatting runs was measured three
ways (serving-api README, sixth and seventh passes): a writer formatting record by record in
Python held the GIL ~5 µs a record; a writer formatting a batch in one pass of C found the
records, made up to 50 ms earlier, out of the cache (~2–3 µs a record, by py-spy) and kept
~1 KiB of objects per record alive meanwhile, for the garbage collector to walk; formatted on
the request path, a record waits as ~0.4 KiB of bytes. When the buffer is full the records are
dropped and counted (``serving_capture_dropped_total``) rather than slowing down or failing
requests; so is a record that will not format (an integer beyond 64 bits that the schema
accepted as an amount), alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from churn_core.capture import Row, capture_lines
from serving_api.metrics import Metrics

logger = logging.getLogger(__name__)


class FailureLog:
    """Says that capture writes fail at most once per interval, and that they work again once
    after each logged failure: a full disk, where small batches may still fit between failing
    ones, must not also flood the logs."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.failing_since: float | None = None
        self._last_log: float | None = None
        self._logged = False  # a failure was logged and its recovery not yet
        self._lost = 0

    def failed(self, lost: int, error: BaseException) -> None:
        now = time.monotonic()
        self._lost += lost
        if self.failing_since is None:
            self.failing_since = now
        if self._last_log is not None and now - self._last_log < self.interval:
            return
        reason = f"{type(error).__name__}: {error}"
        if self._logged:
            logger.error(
                "capture writes still failing (%s); %d records dropped so far", reason, self._lost
            )
        else:
            logger.error(
                "capture writes failing (%s); %d records dropped, predictions are still answered",
                reason,
                self._lost,
            )
        self._last_log = now
        self._logged = True

    def succeeded(self) -> None:
        if self.failing_since is None:
            return
        if self._logged:
            logger.warning(
                "capture writes resumed after %.0f s; %d records were dropped meanwhile",
                time.monotonic() - self.failing_since,
                self._lost,
            )
            self._logged = False
            self._lost = 0
        self.failing_since = None


def write_all(fd: int, data: bytes | bytearray) -> None:
    """Write every byte (a regular file may take fewer than asked on a nearly full disk)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class CaptureWriter:
    def __init__(
        self,
        directory: Path,
        metrics: Metrics | None = None,
        max_pending: int = 200_000,
        max_file_bytes: int = 64 * 1024 * 1024,
        max_file_seconds: float = 3600.0,
        fsync_seconds: float = 5.0,
        flush_seconds: float = 0.05,
        wake_records: int = 4096,
        log_seconds: float = 60.0,
    ) -> None:
        self.directory = Path(directory)
        self.metrics = metrics
        self.max_pending = max_pending
        self.max_file_bytes = max_file_bytes
        self.max_file_seconds = max_file_seconds
        self.fsync_seconds = fsync_seconds
        # Waking the writer per request (Event.set, then a thread switch and the GIL handed
        # back and forth) cost ~15 % of a /predict under load (py-spy); a timer batches them.
        self.flush_seconds = flush_seconds
        self.wake_records = wake_records
        # The JSON lines of the records submitted since the writer last took them.
        self._buffer = bytearray()
        self._buffered = 0
        self._unformatted_logged = -log_seconds
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pending = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._failures = FailureLog(log_seconds)
        self._fd: int | None = None
        self._file_opened = 0.0
        self._file_bytes = 0
        self._last_fsync = 0.0
        self._sequence = 0
        self.written = 0
        self.dropped = 0

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def failing(self) -> bool:
        """True from a failed write until the next one that succeeds."""
        return self._failures.failing_since is not None

    def start(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # tried again at each new file; the server still starts
            self._failures.failed(0, error)
        self._thread = threading.Thread(target=self._run, name="capture-writer", daemon=True)
        self._thread.start()

    def submit(self, records: list[Row]) -> bool:
        """Format one request's records (``churn_core.capture.capture_record``) as JSON lines
        and append them to the buffer the writer takes; False, and counted as dropped, when the
        buffer is full or closed. A record that will not format is dropped alone. Never raises:
        capture must not fail a prediction."""
        data, n = self._format(records)
        if not n:
            return False
        with self._lock:
            accepted = not self._stopping and self._pending + n <= self.max_pending
            if accepted:
                self._buffer += data
                self._buffered += n
                self._pending += n
            wake = accepted and self._pending >= self.wake_records
        if not accepted:
            self._drop(n)
            return False
        if wake and not self._wake.is_set():
            self._wake.set()
        return True

    def _format(self, records: list[Row]) -> tuple[bytes, int]:
        """The records' JSON lines and how many they hold: a record that does not format is
        left out, counted as dropped and logged (at most once per log interval)."""
        try:
            return capture_lines(records), len(records)
        except orjson.JSONEncodeError as error:  # rare: find the culprits one by one
            lines = []
            for record in records:
                with contextlib.suppress(orjson.JSONEncodeError):
                    lines.append(capture_lines((record,)))
            left_out = len(records) - len(lines)
            self._drop(left_out)
            now = time.monotonic()
            if now - self._unformatted_logged >= self._failures.interval:
                self._unformatted_logged = now
                logger.error("capture records left out: they do not format (%s)", error)
            return b"".join(lines), len(lines)

    def _drop(self, n: int) -> None:
        with self._lock:
            self.dropped += n
        if self.metrics is not None:
            self.metrics.capture_dropped.inc(n)

    def close(self, timeout: float = 30.0) -> None:
        """Stop accepting, write everything queued, flush, fsync and close the file."""
        with self._lock:
            self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.error("capture writer did not finish within %.0f s", timeout)
        else:
            self._drain()
            self._close_file()

    def _run(self) -> None:
        while True:
            self._wake.wait(timeout=self.flush_seconds)
            self._wake.clear()
            stopping = self._stopping
            self._drain()  # each write is visible at once to readers such as `churn-core drift`
            if self._fd is not None:
                now = time.monotonic()
                if now - self._last_fsync >= self.fsync_seconds:
                    self._fsync()
                    self._last_fsync = now
                if now - self._file_opened >= self.max_file_seconds:
                    self._close_file()
            if stopping:
                self._close_file()
                return

    def _drain(self) -> None:
        while True:
            with self._lock:
                data, self._buffer = self._buffer, bytearray()
                records, self._buffered = self._buffered, 0
            if not records:
                if self.metrics is not None:
                    self.metrics.capture_queue_depth.set(self._pending)
                return
            try:
                self._write(data)
            # A full, read-only or vanished volume (or anything else): count, log, go on.
            except Exception as error:
                self._drop(records)
                self._failures.failed(records, error)
                written = 0
            else:
                self._failures.succeeded()
                written = records
            with self._lock:  # counted as pending until written: bounds memory on a slow disk
                self._pending -= records
                pending = self._pending
            self.written += written
            if self.metrics is not None:
                self.metrics.capture_written.inc(written)
                self.metrics.capture_queue_depth.set(pending)

    def _write(self, data: bytes | bytearray) -> None:
        if self._fd is None or self._file_bytes >= self.max_file_bytes:
            self._open_file()
        assert self._fd is not None
        try:
            write_all(self._fd, data)
        except OSError:
            self._take_back(self._file_bytes)
            raise
        self._file_bytes += len(data)

    def _take_back(self, size: int) -> None:
        """After a failed write: cut the file back to its last whole line, or abandon it (the
        next batch opens a new file) when even that fails."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, size)
        except OSError:
            self._close_descriptor()

    def _open_file(self) -> None:
        self._close_file()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        # Host (the pod name) and pid keep names unique on a volume shared by many pods.
        writer = f"{socket.gethostname()}-{os.getpid()}"
        path = self.directory / f"capture-{stamp}-{writer}-{self._sequence:04d}.jsonl"
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(path, flags, 0o644)
        self._file_opened = time.monotonic()
        self._file_bytes = 0
        self._last_fsync = self._file_opened

    def _fsync(self) -> None:
        """fsync the open file; when that fails its written data may be lost, so a new file is
        started rather than appending to one whose tail is unknown."""
        assert self._fd is not None
        try:
            os.fsync(self._fd)
        except OSError as error:
            self._failures.failed(0, error)
            self._close_descriptor()

    def _close_file(self) -> None:
        if self._fd is None:
            return
        self._fsync()
        if self._fd is not None:
            self._close_descriptor()

    def _close_descriptor(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):  # EIO from close: nothing more to do with it
                os.close(fd)
