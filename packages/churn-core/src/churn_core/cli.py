"""The `churn-core` command: thin argument parsing over the library modules."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from churn_core.cli_parser import build_parser
from churn_core.console import (
    print_comparison,
    print_drift_summary,
    print_metrics,
    stderr_console,
)

EXIT_OK, EXIT_DRIFT, EXIT_BAD_INPUT, EXIT_PUSH_FAILED = 0, 1, 2, 3
EXIT_REFUSED = 1  # verify: the signature does not verify (2 stays "bad input")

# The extra that brings each optional library (pyproject's [project.optional-dependencies]);
# a command run without it says which extra to add instead of printing a traceback.
EXTRA_OF_MODULE = {
    "pandas": "data",
    "pandera": "data",
    "pyarrow": "data",
    "rich": "data",
    "sklearn": "train",
    "catboost": "train",
    "scipy": "drift",
    "prometheus_client": "drift",
    "evidently": "report",
    "pyspark": "spark",
}


def _generate(args: argparse.Namespace) -> int:
    from churn_core.data import generate, write_frame, write_request_body

    frame = generate(args.rows, seed=args.seed, drift=args.drift)
    if args.request_body:
        write_request_body(frame, args.out)
    else:
        write_frame(frame, args.out)
    what = "a request body of " if args.request_body else ""
    churn = frame.Exited.mean()
    stderr_console().print(f"wrote {what}{len(frame)} customers to {args.out} (churn {churn:.1%})")
    return EXIT_OK


def _train(args: argparse.Namespace) -> int:
    from churn_core.training import train

    console = stderr_console()
    with console.status("training…"):
        out = train(
            args.out,
            data=args.data,
            seed=args.seed,
            rows=args.rows,
            quick=args.quick,
            families=args.families,
            split_seeds=args.split_seeds,
            progress=console.log,
            report_dir=args.report,
        )
    if args.sign_key:
        from churn_core.signing import sign

        console.print(f"signed: {sign(out, args.sign_key)}")
    manifest = json.loads((out / "manifest.json").read_text())
    print_metrics(manifest["metrics"]["holdout"], "hold-out (20 %)")
    print_comparison(manifest)
    console.print(f"chosen: {manifest['selection']['reason']}")
    console.print(
        f"bundle {out} · model {manifest['model_version']} · {manifest['training']['seconds']} s"
    )
    return EXIT_OK


def _sign(args: argparse.Namespace) -> int:
    from churn_core.signing import sign

    signature = sign(args.model_dir, args.private_key)
    print(f"signed {args.model_dir} → {signature}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from churn_core.bundle import read_verified
    from churn_core.signing import SignatureError, load_key, verify

    try:
        status = verify(args.model_dir, [load_key(k) for k in args.public_key])
    except SignatureError as exc:
        print(f"churn-core verify: REFUSED: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    read_verified(args.model_dir)  # a validly signed bundle must still be a loadable bundle
    print(f"verified {args.model_dir}: signed by {status.key_fingerprint}")
    return EXIT_OK


def _evaluate(args: argparse.Namespace) -> int:
    from churn_core.data import columns_of, load
    from churn_core.metrics import classification_metrics
    from churn_core.predictor import Predictor
    from churn_core.schema import LABEL

    predictor = Predictor.from_bundle(args.model_dir)
    frame = load(args.data, label=True)
    probabilities = predictor.predict_proba(columns_of(frame))
    metrics = classification_metrics(frame[LABEL].to_numpy(), probabilities, predictor.threshold)
    print_metrics(metrics, f"{args.data} · {predictor.model_version}")
    if args.json:
        args.json.write_text(json.dumps(metrics, indent=2))
    return EXIT_OK


def _score(args: argparse.Namespace) -> int:
    if args.engine == "spark":
        from churn_core.spark.job import score

        return score(args)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from churn_core.predictor import Predictor
    from churn_core.scoring import count_rows, score_file

    predictor = Predictor.from_bundle(args.model_dir)
    started = time.perf_counter()
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr_console()) as progress:
        task = progress.add_task("scoring", total=count_rows(Path(args.data)))
        report = score_file(
            predictor,
            args.data,
            args.out,
            errors_out=args.errors,
            chunk_rows=args.chunk_rows,
            on_chunk=lambda rows: progress.advance(task, rows),
        )
    seconds = time.perf_counter() - started
    console = stderr_console()
    console.print(
        f"scored {report.scored} of {report.rows} rows into {args.out} in {seconds:.1f} s "
        f"({report.rows / max(seconds, 1e-9):,.0f} rows/s)"
    )
    if report.invalid_rows:
        shown = ", ".join(f"row {f['row']} {f['field']}" for f in report.failures[:10])
        where = f" (all in {args.errors})" if args.errors else ""
        console.print(f"[red]{report.invalid_rows} invalid rows not scored{where}: {shown}")
        return EXIT_BAD_INPUT
    return EXIT_OK


def _drift(args: argparse.Namespace) -> int:
    from datetime import datetime

    from churn_core import drift

    since = datetime.fromisoformat(args.since) if args.since else None
    until = datetime.fromisoformat(args.until) if args.until else None
    if args.engine == "spark":
        if args.html:
            raise ValueError("--html needs the current rows in one process: use --engine single")
        from churn_core.spark.job import drift as spark_drift

        report = spark_drift(args)
    else:
        reference = drift.read_reference(args.reference)
        current = drift.read_current(args.current, since=since, until=until)
        thresholds = drift.Thresholds(
            psi=args.psi_threshold, p_value=args.p_threshold, min_rows=args.min_rows
        )
        report = drift.compare(
            reference, current, thresholds, sources=(str(args.reference), str(args.current))
        )
    text = json.dumps(report, indent=2, default=str)
    if str(args.json) == "-":
        print(text)
    elif args.json:
        args.json.write_text(text + "\n")
    else:
        print_drift_summary(report)
    summary = _summary_path(args)
    if summary:
        drift.write_summary(report, summary)
        stderr_console().print(f"summary page: {summary}")
    if args.html:
        drift.write_html(reference, current, args.html)
    if args.pushgateway:
        try:
            drift.push_metrics(report, args.pushgateway)
        except OSError as exc:  # a job scheduler must tell "could not report" from "drift"
            stderr_console().print(f"[red]could not push to {args.pushgateway}: {exc}")
            return EXIT_PUSH_FAILED
    flagged = ", ".join(report["drifted_features"]) or "none"
    stderr_console().print(
        f"drift: {'YES' if report['drift'] else 'no'} · {report['current']['rows']} rows · "
        f"drifted features: {flagged} · invalid rows {report['data_quality']['invalid_share']:.2%}"
    )
    return EXIT_DRIFT if report["drift"] else EXIT_OK


def _summary_path(args: argparse.Namespace) -> Path | None:
    from churn_core.drift import summary_path_for

    if args.no_summary:
        return None
    if args.summary:
        return args.summary
    if args.json and str(args.json) != "-":
        return summary_path_for(args.json)
    return None


COMMANDS = {
    "generate": _generate,
    "train": _train,
    "sign": _sign,
    "verify": _verify,
    "evaluate": _evaluate,
    "score": _score,
    "drift": _drift,
}


def main(argv: Sequence[str] | None = None) -> int:
    from churn_core.bundle import BundleError
    from churn_core.data import DataValidationError

    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (BundleError, DataValidationError, FileNotFoundError, ValueError) as exc:
        print(f"churn-core {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ModuleNotFoundError as exc:
        top = (exc.name or "").partition(".")[0]
        if top not in EXTRA_OF_MODULE:
            raise
        extra = EXTRA_OF_MODULE[top]
        print(
            f"churn-core {args.command}: {top} is not installed; it comes with the [{extra}] "
            f"extra: uv run --package churn-core --extra {extra} churn-core {args.command} …",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
