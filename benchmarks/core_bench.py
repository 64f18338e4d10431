"""churn-core fast path against the seed-style scikit-learn pipeline, in one run.

    uv run python benchmarks/core_bench.py [--rows-file 1000000] [--repeat 200]

Prints one table: predict (1, 100, 1,000 rows), explain (1 row, batch of 100), file scoring
and drift over a million rows, each with the baseline and the ratio. Absolute times move with
the machine's load; the ratios are measured side by side in the same process.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from baseline import seed_pipeline

from churn_testing.benchmarking import machine, p50_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-file", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    import pandas as pd
    import shap

    from churn_core import Predictor
    from churn_core.data import generate, write_frame
    from churn_core.features import build_matrix, columns_from_records
    from churn_core.schema import FEATURE_NAMES
    from churn_core.training import train

    work = Path(tempfile.mkdtemp(prefix="core-bench-"))
    print(f"machine: {machine()}", flush=True)
    t0 = time.perf_counter()
    bundle = train(work / "model", seed=42)
    print(f"trained the fast-path model in {time.perf_counter() - t0:.1f} s", flush=True)
    predictor = Predictor.from_bundle(bundle)
    predictor.compile_single_row()  # as the servers do once ready
    t0 = time.perf_counter()
    pipeline = seed_pipeline()
    print(f"trained the seed-style stacking pipeline in {time.perf_counter() - t0:.1f} s")

    customers = generate(1_000, seed=5)[list(FEATURE_NAMES)].to_dict(orient="records")
    rows: list[tuple[str, float, float, str]] = []
    for n in (1, 100, 1_000):
        batch = customers[:n]
        repeat = max(10, args.repeat // (1 if n == 1 else 10))
        ours = p50_ms(lambda b=batch: predictor.predict(b), repeat)
        theirs = p50_ms(lambda b=batch: pipeline.predict_proba(pd.DataFrame(b)), repeat)
        rows.append((f"predict {n} row(s)", theirs, ours, "sklearn stacking pipeline"))

    background = predictor.background
    matrix_bg = build_matrix(columns_from_records(background))
    # shap reads the objective from the booster's loaded parameters; a CatBoost winner copied
    # into LightGBM text (churn_core.oblivious) has none, so shap would assume regression.
    predictor.booster.params.setdefault("objective", "binary")
    tree = shap.TreeExplainer(
        predictor.booster,
        data=matrix_bg,
        feature_perturbation="interventional",
        model_output="probability",
    )
    one = customers[:1]
    hundred = customers[:100]
    m1 = build_matrix(columns_from_records(one))
    m100 = build_matrix(columns_from_records(hundred))
    ours = p50_ms(lambda: predictor.predict(one, explain=True), max(10, args.repeat // 4))
    theirs = p50_ms(lambda: tree.shap_values(m1), 20)
    rows.append(("explain 1 row", theirs, ours, "shap TreeExplainer (interventional)"))
    ours = p50_ms(lambda: predictor.predict(hundred, explain=True), 10) / 100
    theirs = p50_ms(lambda: tree.shap_values(m100), 3, warmup=1) / 100
    rows.append(("explain per row, batch of 100", theirs, ours, "shap TreeExplainer"))

    data = work / "customers.csv"
    write_frame(generate(args.rows_file, seed=9), data)
    cli = [sys.executable, "-m", "churn_core.cli"]
    t0 = time.perf_counter()
    subprocess.run(
        [
            *cli,
            "score",
            "--model-dir",
            str(bundle),
            "--data",
            str(data),
            "--out",
            str(work / "o.csv"),
        ],
        check=True,
        capture_output=True,
    )
    score_s = time.perf_counter() - t0
    frame = pd.read_csv(data, nrows=100_000)[list(FEATURE_NAMES)]
    t0 = time.perf_counter()
    pipeline.predict_proba(frame)
    theirs = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    predictor.predict_proba({name: frame[name].to_numpy() for name in FEATURE_NAMES})
    ours = (time.perf_counter() - t0) * 1000
    rows.append(("score 100,000 rows in memory", theirs, ours, "pipeline.predict_proba(frame)"))
    t0 = time.perf_counter()
    drift = subprocess.run(
        [
            *cli,
            "drift",
            "--reference",
            str(bundle),
            "--current",
            str(data),
            "--json",
            str(work / "d.json"),
        ],
        capture_output=True,
    )
    drift_s = time.perf_counter() - t0
    print()
    print("| operation | baseline (ms) | churn-core (ms) | speed-up | baseline is |")
    print("|---|---:|---:|---:|---|")
    for name, theirs, ours, what in rows:
        print(f"| {name} | {theirs:,.3f} | {ours:,.3f} | {theirs / ours:,.1f}x | {what} |")
    print(
        f"\nfile scoring: {args.rows_file / score_s:,.0f} rows/s end to end (process start, "
        f"read, validate, predict, write); drift over {args.rows_file:,} rows x 10 features: "
        f"{drift_s:.2f} s end to end (exit {drift.returncode})"
    )


if __name__ == "__main__":
    main()
