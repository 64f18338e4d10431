import base64
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ks_2samp

from churn_core import drift
from churn_core.cli import main
from churn_core.data import generate, write_frame
from churn_core.drift.stats import numeric_test
from churn_core.schema import FEATURE_NAMES


def _features(frame):
    return frame[list(FEATURE_NAMES)]


def test_psi_matches_the_formula_on_a_known_case():
    expected = np.array([0.25, 0.25, 0.5])
    actual = np.array([0.5, 0.25, 0.25])
    by_hand = (0.5 - 0.25) * np.log(0.5 / 0.25) + (0.25 - 0.5) * np.log(0.25 / 0.5)
    assert drift.psi(expected, actual) == pytest.approx(by_hand)
    assert drift.psi(expected, expected) == 0.0


def test_quantile_psi_is_zero_for_identical_samples_and_grows_with_shift():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=50_000)
    assert drift.quantile_psi(reference, reference) == pytest.approx(0.0, abs=1e-12)
    small = drift.quantile_psi(reference, rng.normal(0.1, size=50_000))
    large = drift.quantile_psi(reference, rng.normal(0.5, size=50_000))
    assert small < 0.05 < 0.2 < large


def test_ks_agrees_with_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=3_000), rng.normal(0.2, size=2_000)
    ours = numeric_test(a, b)
    theirs = ks_2samp(a, b, method="asymp")
    assert ours["statistic"] == pytest.approx(theirs.statistic)
    assert ours["p_value"] == pytest.approx(theirs.pvalue)


def test_false_alarm_rate_over_20_seeds_is_at_most_5_percent():
    reference = _features(generate(5_000, seed=1000))
    alarms = sum(
        drift.compare(reference, _features(generate(2_000, seed=seed)))["drift"]
        for seed in range(20)
    )
    assert alarms / 20 <= 0.05


def test_generated_drift_is_flagged_on_the_shifted_features():
    reference = _features(generate(5_000, seed=1))
    report = drift.compare(reference, _features(generate(5_000, seed=2, drift=0.3)))
    assert report["drift"] is True
    assert {"Age", "Balance", "CreditScore", "Geography"} <= set(report["drifted_features"])
    assert not {"Tenure", "HasCrCard", "EstimatedSalary"} & set(report["drifted_features"])


def test_report_shape_is_stable():
    reference = _features(generate(2_000, seed=1))
    report = drift.compare(reference, _features(generate(1_000, seed=2)))
    assert set(report) == {
        "schema_version",
        "generated_at",
        "reference",
        "current",
        "thresholds",
        "features",
        "prediction",
        "data_quality",
        "drifted_features",
        "drift",
    }
    assert set(report["features"]) == set(FEATURE_NAMES)
    for result in report["features"].values():
        assert {"kind", "test", "statistic", "p_value", "psi", "drifted"} <= set(result)
    json.dumps(report)


def test_invalid_rows_are_counted_as_data_quality(tmp_path):
    current = _features(generate(1_000, seed=2))
    current.loc[:49, "Age"] = 200
    report = drift.compare(_features(generate(2_000, seed=1)), current)
    assert report["data_quality"]["invalid_rows"] == 50
    assert report["data_quality"]["failed"] is True
    assert report["current"]["rows"] == 950


def test_clean_rows_are_compared_without_importing_pandera(tmp_path):
    """pandera (and pyspark.pandas, which it imports when pyspark is installed) takes a second or
    more to import on a cold start; drift needs it only to name the failures of bad rows."""
    import subprocess
    import sys

    write_frame(generate(2_000, seed=1), tmp_path / "ref.parquet")
    write_frame(generate(1_000, seed=2), tmp_path / "cur.parquet")
    args = ["drift", "--reference", str(tmp_path / "ref.parquet")]
    args += ["--current", str(tmp_path / "cur.parquet"), "--json", str(tmp_path / "d.json")]
    code = (
        "import sys; from churn_core.cli import main; "
        f"code = main({args!r}); print(code, 'pandera' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "False"]


def _capture_lines(frame, start="2026-11-20T10:00:00+00:00"):
    from datetime import datetime, timedelta

    t0 = datetime.fromisoformat(start)
    for i, row in enumerate(frame.to_dict(orient="records")):
        yield json.dumps(
            {
                "timestamp": (t0 + timedelta(minutes=i)).isoformat(),
                "request_id": f"r{i}",
                "model_version": "m",
                "features": row,
                "churn_probability": 0.2,
                "churn_prediction": 0,
                "risk_level": "LOW",
            }
        )


def test_reads_a_directory_of_service_captures_with_a_time_window(tmp_path):
    frame = _features(generate(300, seed=3))
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "capture-1.jsonl").write_text("\n".join(_capture_lines(frame[:200])) + "\n")
    (tmp_path / "capture-2.jsonl").write_text(
        "\n".join(_capture_lines(frame[200:], "2026-11-21T10:00:00+00:00")) + "\n"
    )
    everything = drift.read_current(tmp_path)
    assert len(everything) == 300
    from datetime import datetime

    window = drift.read_current(
        tmp_path,
        since=datetime.fromisoformat("2026-11-20T10:10:00+00:00"),
        until=datetime.fromisoformat("2026-11-21T00:00:00+00:00"),
    )
    assert len(window) == 190
    assert window.iloc[0]["Age"] == frame.iloc[10]["Age"]


def _sagemaker_record(payload: str, content_type: str, encode: bool, output: str | None = None):
    data = base64.b64encode(payload.encode()).decode() if encode else payload
    record = {
        "captureData": {
            "endpointInput": {
                "observedContentType": content_type,
                "mode": "INPUT",
                "data": data,
                "encoding": "BASE64" if encode else ("CSV" if "csv" in content_type else "JSON"),
            }
        },
        "eventMetadata": {"eventId": "e", "inferenceTime": "2026-11-20T10:00:00Z"},
        "eventVersion": "0",
    }
    if output is not None:
        record["captureData"]["endpointOutput"] = {
            "observedContentType": "application/json",
            "mode": "OUTPUT",
            "data": output,
            "encoding": "JSON",
        }
    return json.dumps(record)


def test_reads_sagemaker_data_capture_csv_and_json_base64_or_not(tmp_path):
    frame = _features(generate(4, seed=5))
    rows = frame.to_dict(orient="records")
    csv_lines = "\n".join(",".join(str(row[n]) for n in FEATURE_NAMES) for row in rows[:2])
    output = json.dumps({"predictions": [{"churn_probability": 0.3}, {"churn_probability": 0.4}]})
    records = [
        _sagemaker_record(csv_lines, "text/csv", encode=True, output=output),
        _sagemaker_record(json.dumps({"instances": rows[2:3]}), "application/json", False),
        _sagemaker_record(json.dumps(rows[3]), "application/json", True),
    ]
    path = tmp_path / "capture.jsonl"
    path.write_text("\n".join(records) + "\n")
    current = drift.read_current(path)
    assert len(current) == 4
    assert current["Age"].tolist() == frame["Age"].tolist()
    assert current["Geography"].tolist() == frame["Geography"].tolist()
    assert current["churn_probability"].iloc[:2].tolist() == [0.3, 0.4]


def test_cli_exit_codes_and_bundle_reference(bundle_dir: Path, tmp_path):
    same = tmp_path / "same.csv"
    shifted = tmp_path / "shifted.parquet"
    write_frame(generate(3_000, seed=8), same)
    write_frame(generate(3_000, seed=9, drift=0.4), shifted)
    out = tmp_path / "report.json"
    assert main(["drift", "--reference", str(bundle_dir), "--current", str(same)]) == 0
    assert (
        main(
            ["drift", "--reference", str(bundle_dir), "--current", str(shifted), "--json", str(out)]
        )
        == 1
    )
    assert json.loads(out.read_text())["drift"] is True
    assert main(["drift", "--reference", str(bundle_dir), "--current", str(tmp_path / "no")]) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,customer\n1,2,3\n")
    assert main(["drift", "--reference", str(bundle_dir), "--current", str(bad)]) == 2


@pytest.mark.slow
def test_html_report_is_written_with_evidently(bundle_dir: Path, tmp_path):
    current = tmp_path / "current.csv"
    write_frame(generate(500, seed=3, drift=0.3), current)
    html = tmp_path / "report.html"
    main(["drift", "--reference", str(bundle_dir), "--current", str(current), "--html", str(html)])
    text = html.read_text()
    assert html.stat().st_size > 10_000 and "Age" in text


def test_an_unreachable_pushgateway_exits_3_not_1(bundle_dir: Path, tmp_path):
    import socket

    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    same = tmp_path / "same.csv"
    write_frame(generate(1_000, seed=8), same)
    args = ["drift", "--reference", str(bundle_dir), "--current", str(same)]
    assert main([*args, "--pushgateway", f"http://127.0.0.1:{port}"]) == 3


def test_too_few_rows_are_an_error_not_drift(bundle_dir: Path, tmp_path):
    reference = _features(generate(2_000, seed=1))
    with pytest.raises(drift.DataValidationError, match="too few to judge drift"):
        drift.compare(reference, _features(generate(99, seed=2)))
    few = tmp_path / "few.csv"
    write_frame(generate(20, seed=3), few)
    args = ["drift", "--reference", str(bundle_dir), "--current", str(few)]
    assert main(args) == 2
    assert main([*args, "--min-rows", "10"]) in (0, 1)


def test_files_last_written_before_since_are_not_read(tmp_path):
    import os
    from datetime import datetime

    frame = _features(generate(20, seed=3))
    old, new = tmp_path / "capture-old.jsonl", tmp_path / "capture-new.jsonl"
    old.write_text("\n".join(_capture_lines(frame[:10], "2026-11-19T10:00:00+00:00")) + "\n")
    new.write_text("\n".join(_capture_lines(frame[10:], "2026-11-21T10:00:00+00:00")) + "\n")
    stamp = datetime.fromisoformat("2026-11-19T12:00:00+00:00").timestamp()
    os.utime(old, (stamp, stamp))
    old.write_bytes(b"{not json")  # would fail to parse if it were read
    os.utime(old, (stamp, stamp))
    since = datetime.fromisoformat("2026-11-21T00:00:00+00:00")
    assert len(drift.read_current(tmp_path, since=since)) == 10


def test_a_torn_last_line_is_skipped_and_counted_not_fatal(tmp_path):
    """What a SIGKILL or a full disk leaves: a last record without its newline, cut short."""
    import gzip

    frame = _features(generate(150, seed=4))
    lines = list(_capture_lines(frame))
    (tmp_path / "capture-1.jsonl").write_text("\n".join(lines) + "\n" + lines[0][:37])
    with gzip.open(tmp_path / "capture-2.jsonl.gz", "wt") as handle:
        handle.write("\n".join(lines[:50]) + "\n")
    cut = (tmp_path / "capture-2.jsonl.gz").read_bytes()
    (tmp_path / "capture-2.jsonl.gz").write_bytes(cut[: len(cut) - 12])  # the stream stops early
    current = drift.read_current(tmp_path)
    assert current.attrs["torn_lines"] == 2
    assert 150 <= len(current) <= 200  # every whole record of the plain file, what gzip gave
    report = drift.compare(_features(generate(2_000, seed=5)), current)
    assert report["data_quality"]["torn_lines"] == 2


def test_a_bad_line_in_the_middle_is_corruption_and_raises(tmp_path):
    frame = _features(generate(20, seed=6))
    lines = list(_capture_lines(frame))
    lines[5] = lines[5][:30]  # cut short, yet followed by more records
    (tmp_path / "capture.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError):
        drift.read_current(tmp_path)


@pytest.mark.parametrize("name", ["Age", "Balance", "EstimatedSalary"])
def test_ks_from_fine_bins_brackets_the_exact_statistic(name: str) -> None:
    """The Spark engine's KS from counts: exact for a small integer range, otherwise within the
    bound it reports, with the asymptotic p-value of the statistic it reports."""
    from churn_core.drift.stats import ks_bin_counts, ks_from_counts, ks_grid
    from churn_core.schema import FEATURE_BY_NAME

    reference = generate(20_000, seed=1)[name].to_numpy(float)
    current = generate(100_000, seed=2, drift=0.1)[name].to_numpy(float)
    grid = ks_grid(reference, FEATURE_BY_NAME[name])
    got = ks_from_counts(reference, grid, ks_bin_counts(current, grid))
    exact = ks_2samp(reference, current, method="asymp")
    assert got["statistic"] <= exact.statistic + 1e-12
    assert exact.statistic <= got["statistic"] + got["ks_error_bound"] + 1e-12
    assert got["ks_error_bound"] <= (0 if name == "Age" else 0.002)
    if name == "Age":
        assert got["p_value"] == pytest.approx(exact.pvalue, rel=1e-9)
