"""Spark scoring and drift at local[1] and local[2] against the single process, each measurement
pinned to a stated number of cores, in one run.

    uv run python benchmarks/spark_bench.py [--rows 3000000] [--model-dir DIR]

Why pinned: Spark ``local[N]`` runs N Python workers, but also a JVM that reads Parquet,
converts rows to Arrow and writes the output, on whatever cores are free. Left unpinned on a
2-core machine, ``local[1]`` already keeps both cores busy, so neither "throughput per core"
nor "``local[2]`` / ``local[1]``" can be read from it. Here every measurement runs with its CPU
affinity (Linux ``sched_setaffinity``, which child processes inherit: the CLI, the JVM and its
Python workers) set to a defined number of cores:

- the single process (``churn-core score`` and ``churn-core drift``, whole commands) on 1 core;
- Spark ``local[1]`` on 1 core, ``local[2]`` on 2 cores, each in a fresh JVM, each job timed on
  its second pass over the data: the first pass starts the Python workers and lets the JVM
  compile its hot paths (at 3,000,000 rows on 2 cores the first pass took 1.5-2.3 times as long
  as the second; a warm-up on 10,000 rows left that in the timed run, since on one or two cores
  the JIT compiler competes with the job).

It prints rows/s and the two ratios the Spark goals are stated in:

- per core = ``local[1]`` on 1 core / single process on 1 core (goal >= 0.70);
- scaling = ``local[2]`` on 2 cores / ``local[1]`` on 1 core (goal >= 1.7).

The single process's rows/s are given for the whole command and net of its start-up (the same
command on the first 10,000 rows: process start, imports, bundle load), since Spark's exclude
theirs; the per-core ratio is printed against both. The machine is shared and noisy: read the
ratios, measured side by side, more than the absolute figures. Spark's scoring is the job
users submit (``churn_core.spark.job.score``: the scored output, the count of rejected rows and
their output, the rows counted). ``local[1]`` also times two floors of it: the same Parquet read
and write with nothing in between (Spark alone, no Python), and with a mapInPandas that returns
its batches unchanged (the Arrow round trip to a Python worker added). Together they bound the
per-core ratio of scoring from above, whatever churn-core's Python does. The default of
3,000,000 rows keeps a run at about 10 minutes on the 2-core dev VM.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from churn_testing.benchmarking import machine
from churn_testing.bundles import given_or_quick

CLI = [sys.executable, "-m", "churn_core.cli"]
START_ROWS = 10_000


@contextmanager
def pinned(cores: int) -> Iterator[set[int]]:
    """Run what starts inside on ``cores`` of this process's CPUs (children inherit it)."""
    allowed = os.sched_getaffinity(0)
    if len(allowed) < cores:
        raise SystemExit(f"needs {cores} cores, this process may use {len(allowed)}")
    chosen = set(sorted(allowed)[:cores])
    os.sched_setaffinity(0, chosen)
    try:
        yield chosen
    finally:
        os.sched_setaffinity(0, allowed)


def single_process(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([*CLI, *command], capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def single_timings(bundle: str, data: Path, work: Path) -> dict[str, float]:
    """Whole-command seconds of score and drift over ``data``; ``*_start_s``: the same command
    over the first START_ROWS rows."""
    out: dict[str, float] = {}
    for name, rows in (("", data), ("_start", work / "start.parquet")):
        out[f"score{name}_s"] = single_process(
            ["score", "--model-dir", bundle, "--data", str(rows), "--out", str(work / "s.parquet")]
        )
        out[f"drift{name}_s"] = single_process(
            ["drift", "--reference", bundle, "--current", str(rows), "--json", str(work / "d.json")]
        )
    return out


def _pass_through(batches: Iterator[Any]) -> Iterator[Any]:
    yield from batches


def spark_timings(master: str, bundle: str, data: str, work: str) -> dict[str, float]:
    """Run in a child process: one SparkSession at ``master``; each job once untimed over the
    whole data, then timed. ``io_s``: the Parquet read and write alone; ``floor_s``: the same
    around a mapInPandas that returns its batches as they came, the part of scoring no change
    to churn-core's Python can remove."""
    from churn_core.drift import read_reference
    from churn_core.spark import job
    from churn_core.spark.drift import spark_compare
    from churn_core.spark.io import read_frame, write_frame
    from churn_core.spark.session import spark_session

    started = time.perf_counter()
    spark = spark_session(master, app_name="spark-bench", ui=False)
    spark.sparkContext.setLogLevel("ERROR")
    session_s = time.perf_counter() - started
    reference = read_reference(bundle)

    def spark_io() -> None:
        write_frame(read_frame(spark, data), f"{work}/io-{master}.parquet")

    def floor() -> None:
        source = read_frame(spark, data)
        passed = source.mapInPandas(_pass_through, schema=source.schema)
        write_frame(passed, f"{work}/floor-{master}.parquet")

    def score() -> None:
        out = f"{work}/scored-{master}"
        arguments = {"data": data, "out": f"{out}.parquet", "errors": f"{out}-rejected.json"}
        job.score(argparse.Namespace(master=master, model_dir=bundle, **arguments))

    def drift() -> None:
        spark_compare(reference, read_frame(spark, data))

    out = {"session_s": session_s}
    try:
        jobs = {"io": spark_io, "floor": floor, "score": score, "drift": drift}
        for name, run in jobs.items():
            run()  # warm: the workers' first load, and the JVM's JIT compiling the hot paths
            started = time.perf_counter()
            run()
            out[f"{name}_s"] = time.perf_counter() - started
    finally:
        spark.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--model-dir", help="a bundle (default: train a quick one)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(spark_timings(*args.child)))
        return

    from churn_core.data import generate

    work = Path(tempfile.mkdtemp(prefix="spark-bench-"))
    print(f"machine: {machine()}; CPUs allowed: {sorted(os.sched_getaffinity(0))}", flush=True)
    bundle = str(given_or_quick(args.model_dir))
    data = work / "customers.parquet"
    frame = generate(args.rows, seed=3)
    # Parquet row groups of 500,000 rows: the splits Spark reads in parallel.
    frame.to_parquet(data, index=False, row_group_size=500_000)
    frame.head(START_ROWS).to_parquet(work / "start.parquet", index=False)
    del frame
    print(f"{args.rows:,} rows in {data}", flush=True)

    results: dict[str, dict[str, float]] = {}
    with pinned(1) as cores:
        results["single"] = single_timings(bundle, data, work)
    print(f"single process on CPUs {sorted(cores)}: {results['single']}", flush=True)
    for master, count in (("local[1]", 1), ("local[2]", 2)):
        child = [sys.executable, __file__, "--child", master, bundle, str(data), str(work)]
        with pinned(count) as cores:
            done = subprocess.run(child, capture_output=True, text=True, check=True)
        results[master] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{master} on CPUs {sorted(cores)}: {results[master]}", flush=True)

    single = results["single"]
    rates = {
        "single process, 1 core (whole command)": {
            what: args.rows / single[f"{what}_s"] for what in ("score", "drift")
        },
        "single process, 1 core (net of start-up)": {
            what: (args.rows - START_ROWS) / (single[f"{what}_s"] - single[f"{what}_start_s"])
            for what in ("score", "drift")
        },
        "Spark local[1], 1 core": {
            what: args.rows / results["local[1]"][f"{what}_s"] for what in ("score", "drift")
        },
        "Spark local[2], 2 cores": {
            what: args.rows / results["local[2]"][f"{what}_s"] for what in ("score", "drift")
        },
    }
    spark_io = args.rows / results["local[1]"]["io_s"]
    floor = args.rows / results["local[1]"]["floor_s"]
    print(f"\n| engine | score rows/s | drift rows/s |  ({args.rows:,} rows, Parquet)")
    print("|---|---:|---:|")
    for name, rate in rates.items():
        print(f"| {name} | {rate['score']:,.0f} | {rate['drift']:,.0f} |")
    print(f"| Spark local[1], 1 core, Parquet read and write, no Python | {spark_io:,.0f} | |")
    print(f"| Spark local[1], 1 core, pass-through (no scoring) | {floor:,.0f} | |")
    whole, net = list(rates.values())[:2]
    one, two = rates["Spark local[1], 1 core"], rates["Spark local[2], 2 cores"]
    for what in ("score", "drift"):
        print(
            f"{what}: per core (local[1] on 1 core / single process on 1 core) = "
            f"{one[what] / net[what]:.2f} net of start-up, {one[what] / whole[what]:.2f} whole "
            f"command; scaling (local[2] on 2 cores / local[1] on 1 core) = "
            f"{two[what] / one[what]:.2f}x"
        )
    print(
        f"score, the most its per-core ratio can reach here (net of start-up): Spark's Parquet "
        f"read and write alone {spark_io / net['score']:.2f}, with the Python round trip "
        f"{floor / net['score']:.2f}"
    )


if __name__ == "__main__":
    main()
