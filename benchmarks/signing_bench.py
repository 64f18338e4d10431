"""What signed bundles cost serving-api at start-up: cold start with and without verification.

    uv run --all-packages python benchmarks/signing_bench.py [--starts 5]
                                              [--with-extra VENV] [--without-extra VENV]

Cases, interleaved round by round so the machine's noise falls on all of them alike:
- ``unsigned``: serving-api with churn-core[signing] installed (this environment, or the venv
  ``--with-extra``), no CHURN_TRUSTED_PUBLIC_KEYS: model_signing is never imported;
- ``verified``: the same bundle signed, its public key trusted: model_signing is imported and
  the signature checked before the model loads;
- ``no extra`` (with ``--without-extra VENV``): serving-api from a venv without the extra.
For a like-for-like pair, build both venvs the same way (non-editable, no dev packages).
Cold start is process start → first 200 from /readyz (median of --starts). Also prints the
import time of model_signing in a fresh interpreter and the in-process verify time of the bundle.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from churn_core.signing import TRUST_ENV, check_bundle, sign
from churn_core.training import train
from churn_testing import ServerProcess, free_port
from churn_testing.benchmarking import machine
from churn_testing.paths import BIN
from churn_testing.signing import make_signing_keys


def cold_start(binary: Path, model_dir: Path, trusted: str | None) -> float:
    """Seconds from starting serving-api on the bundle until /readyz answers 200."""
    port = free_port()
    argv = [str(binary), "--model-dir", str(model_dir), "--no-capture", "--port", str(port)]
    env = {key: value for key, value in os.environ.items() if key != TRUST_ENV}
    if trusted:
        env[TRUST_ENV] = trusted
    with ServerProcess(argv, f"http://127.0.0.1:{port}", "/readyz", env=env) as process:
        return process.wait_ready(180)


def import_seconds() -> float:
    code = (
        "import time; t = time.perf_counter(); import model_signing; print(time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5, help="cold starts per case (median)")
    parser.add_argument("--with-extra", type=Path, help="a venv with serving-api and the extra")
    parser.add_argument("--without-extra", type=Path, help="a venv with serving-api, no extra")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        bundle = train(root / "model", rows=3000, seed=7, quick=True)
        private, public = make_signing_keys(root, "bench")
        sign(bundle, private)
        started = time.perf_counter()
        check_bundle(bundle, [public])  # sign() above imported model_signing already
        verify_s = time.perf_counter() - started

        binary = (args.with_extra / "bin" if args.with_extra else BIN) / "serving-api"
        cases: dict[str, tuple[Path, str | None]] = {
            "unsigned": (binary, None),
            "verified": (binary, str(public)),
        }
        if args.without_extra:
            cases["no extra"] = (args.without_extra / "bin" / "serving-api", None)
        times: dict[str, list[float]] = {name: [] for name in cases}
        imports = []
        for _ in range(args.starts):
            for name, (binary, trusted) in cases.items():
                times[name].append(cold_start(binary, bundle, trusted))
            imports.append(import_seconds())

    base = statistics.median(times["unsigned"])
    print(f"machine: {machine()}; median of {args.starts} cold starts (→ /readyz 200)\n")
    print("| case | cold start | vs unsigned |")
    print("|---|---|---|")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"| {name} | {median:.2f} s | {median / base:.2f}x |")
    print(
        f"\nimport model_signing (fresh interpreter, median): {statistics.median(imports):.2f} s"
        f"\nverify the bundle (model_signing imported): {verify_s * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
