"""The report screenshots in docs/images/, made from real pages: train on generated data with
``--report``, run drift on a shifted batch, open both pages in headless Chromium (the test
suite's ``churn_testing.browser``) and keep the top of each page as a small PNG.

    uv run python docs/screenshots.py   # docs/images/drift-summary.png, training-report.png

Needs Debian's chromium (``.ci/system-deps``). Takes about half a minute. The pages themselves
are generated artifacts and stay in a temporary directory.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

IMAGES = Path(__file__).resolve().parent / "images"
MAX_BYTES = 150_000  # a screenshot in the repository stays small
WIDTH = 1000
HEIGHT = {"training-report.png": 1000, "drift-summary.png": 1250}  # down to the first charts


def _pages(work: Path, rows: int) -> dict[str, Path]:
    """Train (both families, quick) with the report, then a drift run on a shifted batch."""
    from churn_core import Predictor
    from churn_core.cli import main
    from churn_core.data import columns_of, generate, write_frame
    from churn_core.schema import FEATURE_NAMES

    bundle, report = work / "model", work / "report"
    options = ["--quick", "--families", "lightgbm,catboost", "--rows", str(rows)]
    if main(["train", *options, "--out", str(bundle), "--report", str(report)]) != 0:
        raise SystemExit("training failed")
    current = generate(3_000, seed=7, drift=0.3)[list(FEATURE_NAMES)]
    current["churn_probability"] = Predictor.from_bundle(bundle).predict_proba(columns_of(current))
    write_frame(current, work / "current.csv")
    sources = ["--reference", str(bundle), "--current", str(work / "current.csv")]
    main(["drift", *sources, "--json", str(work / "drift.json")])  # exit 1: drift, as meant
    return {
        "training-report.png": report / "training-report.html",
        "drift-summary.png": work / "drift.summary.html",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=IMAGES, help="directory for the PNGs")
    parser.add_argument("--rows", type=int, default=8_000, help="generated training rows")
    args = parser.parse_args()

    from churn_testing.browser import open_page

    with tempfile.TemporaryDirectory(prefix="churn-screenshots-") as tmp:
        work = Path(tmp)
        args.out.mkdir(parents=True, exist_ok=True)
        for name, page in _pages(work, args.rows).items():
            seen = open_page(page, work / name, width=WIDTH, height=HEIGHT[name], full_page=False)
            if seen.console_errors or seen.external_requests:
                raise SystemExit(f"{page}: {seen.console_errors} {seen.external_requests}")
            size = seen.screenshot.stat().st_size
            if size > MAX_BYTES:
                raise SystemExit(f"{name}: {size:,} bytes, over the {MAX_BYTES:,} budget")
            shutil.copyfile(seen.screenshot, args.out / name)
            print(f"{args.out / name}: {size:,} bytes")


if __name__ == "__main__":
    main()
