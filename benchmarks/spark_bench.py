"""Spark scoring and drift at local[1] and local[2] against the single process, in one run.

    uv run python benchmarks/spark_bench.py [--rows 5000000] [--model-dir DIR]

Writes ROWS generated customers as Parquet, then times, on the same file and machine:
``churn-core score`` and ``churn-core drift`` (single process, whole command), and the Spark
engine's ``score`` (read Parquet, score, write Parquet) and ``drift`` (against the bundle's
reference) at local[1] and local[2], each in a fresh JVM, after a warm-up on 10,000 rows so the
session start and the workers' first load are not counted. Prints rows/s and the ratios the
docs quote: per-core Spark / single process, and local[2] / local[1]. The machine is shared
and noisy: read the ratios, measured side by side, more than the absolute figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from churn_testing.benchmarking import machine

CLI = [sys.executable, "-m", "churn_core.cli"]


def single_process(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([*CLI, *command], capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def spark_timings(master: str, bundle: str, data: str, work: str) -> dict[str, float]:
    """Run in a child process: one SparkSession at ``master``, warm, then timed."""
    from churn_core.drift import read_reference
    from churn_core.spark.drift import spark_compare
    from churn_core.spark.io import read_frame, write_frame
    from churn_core.spark.scoring import score_frame
    from churn_core.spark.session import spark_session

    started = time.perf_counter()
    spark = spark_session(master, app_name="spark-bench", ui=False)
    spark.sparkContext.setLogLevel("ERROR")
    session_s = time.perf_counter() - started
    try:
        reference = read_reference(bundle)
        warm = read_frame(spark, data).limit(10_000)
        write_frame(score_frame(warm, bundle).scored, f"{work}/warm-{master}.parquet")
        spark_compare(reference, warm)
        started = time.perf_counter()
        write_frame(score_frame(read_frame(spark, data), bundle).scored, f"{work}/out.parquet")
        score_s = time.perf_counter() - started
        started = time.perf_counter()
        spark_compare(reference, read_frame(spark, data))
        drift_s = time.perf_counter() - started
    finally:
        spark.stop()
    return {"session_s": session_s, "score_s": score_s, "drift_s": drift_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--model-dir", help="a bundle (default: train a quick one)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(spark_timings(*args.child)))
        return

    from churn_core.data import generate

    work = Path(tempfile.mkdtemp(prefix="spark-bench-"))
    print(f"machine: {machine()}", flush=True)
    if args.model_dir:
        bundle = args.model_dir
    else:
        from churn_testing.bundles import quick_bundle

        bundle = str(quick_bundle())
    data = work / "customers.parquet"
    # Parquet row groups of 500,000 rows: the splits Spark reads in parallel.
    generate(args.rows, seed=3).to_parquet(data, index=False, row_group_size=500_000)
    print(f"{args.rows:,} rows in {data}", flush=True)

    results: dict[str, dict[str, float]] = {}
    score_cmd = ["score", "--model-dir", bundle, "--data", str(data)]
    results["single"] = {
        "score_s": single_process([*score_cmd, "--out", str(work / "single.parquet")]),
        "drift_s": single_process(
            ["drift", "--reference", bundle, "--current", str(data), "--json", str(work / "d.json")]
        ),
    }
    print(f"single process: {results['single']}", flush=True)
    for master in ("local[1]", "local[2]"):
        child = [sys.executable, __file__, "--child", master, bundle, str(data), str(work)]
        done = subprocess.run(child, capture_output=True, text=True, check=True)
        results[master] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{master}: {results[master]}", flush=True)

    print(f"\n| engine | score rows/s | drift rows/s |  ({args.rows:,} rows, Parquet)")
    print("|---|---:|---:|")
    for name, timing in results.items():
        score, drift = args.rows / timing["score_s"], args.rows / timing["drift_s"]
        print(f"| {name} | {score:,.0f} | {drift:,.0f} |")
    single, one, two = results["single"], results["local[1]"], results["local[2]"]
    for what in ("score", "drift"):
        per_core = single[f"{what}_s"] / one[f"{what}_s"]
        scaling = one[f"{what}_s"] / two[f"{what}_s"]
        print(
            f"{what}: local[1] / single process = {per_core:.2f}; local[2] / local[1] = "
            f"{scaling:.2f}x"
        )


if __name__ == "__main__":
    main()
