import pandas as pd
import pytest

from churn_core.data import DataValidationError, generate, load, write_frame
from churn_core.schema import FEATURE_NAMES, LABEL


def test_generator_is_deterministic_under_seed():
    pd.testing.assert_frame_equal(generate(2_000, seed=5), generate(2_000, seed=5))
    assert not generate(2_000, seed=5).equals(generate(2_000, seed=6))


def test_generator_has_realistic_churn_and_signal():
    frame = generate(50_000, seed=1)
    assert 0.17 <= frame[LABEL].mean() <= 0.25
    by_geo = frame.groupby("Geography")[LABEL].mean()
    assert by_geo["Germany"] > by_geo["France"] + 0.05
    assert frame.groupby("IsActiveMember")[LABEL].mean().diff().iloc[-1] < -0.05
    middle = frame[(frame.Age >= 45) & (frame.Age <= 60)][LABEL].mean()
    assert middle > frame[frame.Age < 40][LABEL].mean() + 0.08
    assert frame[frame.NumOfProducts >= 3][LABEL].mean() > 0.5


def test_generated_data_passes_the_schema(tmp_path):
    path = tmp_path / "g.csv"
    write_frame(generate(500, seed=2), path)
    frame = load(path)
    assert list(frame.columns) == [*FEATURE_NAMES, LABEL]


def test_drift_knob_shifts_distributions():
    base, drifted = generate(20_000, seed=3), generate(20_000, seed=3, drift=0.3)
    assert drifted.Age.mean() > base.Age.mean() + 2
    assert (drifted.Geography == "Germany").mean() > (base.Geography == "Germany").mean() + 0.08


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_loader_reads_every_format_and_drops_identifiers(tmp_path, suffix):
    frame = generate(100, seed=4)
    frame.insert(0, "CustomerId", range(100))
    frame.insert(0, "Surname", "x")
    path = tmp_path / f"data{suffix}"
    write_frame(frame, path)
    loaded = load(path)
    assert "CustomerId" not in loaded.columns and "Surname" not in loaded.columns
    assert len(loaded) == 100


def test_bad_file_names_every_bad_row_and_field(tmp_path):
    frame = generate(10, seed=4)
    frame.loc[2, "Age"] = 150
    frame.loc[7, "Geography"] = "Atlantis"
    frame.loc[7, "Tenure"] = -1
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataValidationError) as err:
        load(path)
    found = {(f["row"], f["field"]) for f in err.value.failures}
    assert found == {(3, "Age"), (8, "Geography"), (8, "Tenure")}
    assert "row 3 Age=150" in str(err.value)


def test_missing_column_is_reported(tmp_path):
    path = tmp_path / "missing.csv"
    generate(5, seed=1).drop(columns=["Age"]).to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="Age"):
        load(path)


def test_real_kaggle_file_loads(real_data):
    frame = load(real_data)
    assert len(frame) == 10_000
    assert "RowNumber" not in frame.columns
