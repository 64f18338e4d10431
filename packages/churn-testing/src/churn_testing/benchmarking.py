"""What every benchmark script prints beside its figures: the machine, medians and percentiles."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def machine() -> str:
    """The machine a figure was measured on: OS, cores, CPU model, Python, current load."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = f", load avg {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"Python {sys.version.split()[0]}{load}"
    )


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (1..99) of the samples, interpolated between the nearest two."""
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def p50_ms(fn: Callable[[], object], repeat: int, warmup: int = 3) -> float:
    """Median wall time of ``fn`` in milliseconds over ``repeat`` calls, after ``warmup``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000
