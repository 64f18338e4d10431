"""The `churn-core` command's arguments: every subcommand, its flags and their defaults.

cli.py runs the commands; this module only describes them, so the docs check and ``--help``
read the same parser the commands use.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from churn_core.cli_help import show_defaults

DEFAULT_MODEL_DIR = "artifacts/model"
ENGINES = ("single", "spark")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="churn-core",
        description="Train, evaluate, score and monitor the bank-churn model.",
        epilog="Files may be CSV, Parquet or JSON lines (the services' capture format).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = sub.add_parser("generate", help="write synthetic customers with a realistic churn rate")
    gen.add_argument("--rows", type=int, default=10_000, help="number of customers")
    gen.add_argument("--out", required=True, type=Path, help="output file (.csv/.parquet/.jsonl)")
    gen.add_argument("--seed", type=int, default=0, help="random seed (same seed, same file)")
    gen.add_argument(
        "--drift", type=float, default=0.0, help="0..1: shift Age, Balance, CreditScore, Geography"
    )
    gen.add_argument(
        "--request-body",
        action="store_true",
        help="write a request body instead, without the label: .json one customer object "
        '(--rows 1) or {"instances": [...]}; .csv rows without a header (SageMaker text/csv)',
    )

    tr = sub.add_parser("train", help="train the model and write a bundle")
    tr.add_argument("--data", type=Path, help="labelled training file; default: generated data")
    tr.add_argument("--out", type=Path, default=Path(DEFAULT_MODEL_DIR), help="bundle directory")
    tr.add_argument("--seed", type=int, default=42)
    tr.add_argument("--rows", type=int, default=20_000, help="generated rows when no --data")
    tr.add_argument(
        "--quick", action="store_true", help="LightGBM, one configuration, 3 folds (for tests)"
    )
    tr.add_argument(
        "--families",
        type=lambda text: tuple(text.split(",")),
        help="comma-separated model families to compare (lightgbm,catboost); "
        "default: both, or lightgbm with --quick",
    )
    tr.add_argument(
        "--split-seeds",
        type=int,
        default=1,
        metavar="N",
        help="also repeat the whole protocol on N hold-outs and report mean ± sd per family",
    )
    tr.add_argument("--sign-key", type=Path, help="sign the bundle with this EC private key (PEM)")
    tr.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="also write DIR/training-report.html: ROC and precision-recall curves, calibration "
        "and the threshold choice on the out-of-fold predictions, the family comparison",
    )

    sg = sub.add_parser("sign", help="sign a bundle (OpenSSF Model Signing, writes model.sig)")
    sg.add_argument("--model-dir", type=Path, required=True)
    sg.add_argument("--private-key", type=Path, required=True, help="EC private key (PEM)")

    vf = sub.add_parser("verify", help="exit 0 when the bundle's signature verifies")
    vf.add_argument("--model-dir", type=Path, required=True)
    vf.add_argument(
        "--public-key", type=Path, required=True, action="append", help="trusted key (PEM)"
    )

    ev = sub.add_parser("evaluate", help="ROC AUC, PR AUC, F1, Brier and calibration on a file")
    ev.add_argument("--model-dir", type=Path, default=Path(DEFAULT_MODEL_DIR))
    ev.add_argument("--data", type=Path, required=True, help="labelled file (with Exited)")
    ev.add_argument("--json", type=Path, help="also write the metrics as JSON")

    sc = sub.add_parser("score", help="score a file in chunks")
    sc.add_argument("--model-dir", type=Path, default=Path(DEFAULT_MODEL_DIR))
    # Text, not Path: with --engine spark these may be s3a:// or gs:// URIs.
    sc.add_argument("--data", required=True, help="input file")
    sc.add_argument("--out", required=True, help="output file (.csv/.parquet/.jsonl)")
    sc.add_argument("--errors", help="write invalid rows' failures here (JSON lines)")
    sc.add_argument("--chunk-rows", type=int, default=100_000)
    _engine_arguments(sc)

    dr = sub.add_parser("drift", help="compare current data (or captures) with the reference")
    dr.add_argument("--reference", type=Path, required=True, help="file, or a bundle directory")
    dr.add_argument("--current", required=True, help="file or directory of captures")
    dr.add_argument("--html", type=Path, help="write an Evidently HTML report")
    dr.add_argument("--json", type=Path, help="write the JSON report ('-': to standard output)")
    dr.add_argument(
        "--summary",
        type=Path,
        help="write the light HTML summary page here; by default it goes next to --json FILE "
        "as FILE's name with .summary.html (drift.json → drift.summary.html), and without a "
        "--json file only when this option is given",
    )
    dr.add_argument("--no-summary", action="store_true", help="do not write the summary page")
    dr.add_argument("--since", help="ISO time: only captures at or after it")
    dr.add_argument("--until", help="ISO time: only captures before it")
    dr.add_argument("--psi-threshold", type=float, default=0.2)
    dr.add_argument("--p-threshold", type=float, default=0.01)
    dr.add_argument("--min-rows", type=int, default=100, help="fewer valid current rows: exit 2")
    dr.add_argument("--pushgateway", help="push the drift gauges to this Pushgateway URL")
    _engine_arguments(dr)
    return show_defaults(parser)


def _engine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=ENGINES[0],
        help="single: this process; spark: Apache Spark (extra churn-core[spark]), paths may be "
        "s3a:// or gs://, and Spark writes a directory of part files at --out",
    )
    parser.add_argument(
        "--master", help="with --engine spark: Spark master (default: spark-submit's, or local[*])"
    )
