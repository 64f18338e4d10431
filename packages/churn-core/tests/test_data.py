import numpy as np
import pandas as pd
import pytest
from pandera.errors import SchemaErrors

from churn_core.data import (
    DataValidationError,
    all_valid,
    frame_schema,
    generate,
    iter_chunks,
    load,
    read_file,
    split_valid,
    write_frame,
)
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


def _clean_layouts() -> dict[str, pd.DataFrame]:
    base = generate(300, seed=8)
    return {
        "as generated": base,
        "columns reordered, other columns": base[base.columns[::-1]].assign(CustomerId=1),
        "balance and salary as int64": base.astype(
            {"Balance": "int64", "EstimatedSalary": "int64"}
        ),
        "categories as pandas categoricals": base.astype({"Geography": "category"}),
        "index not 0..n-1": base.set_axis(range(1000, 1300)),
        "one row": base.iloc[[7]],
    }


@pytest.mark.parametrize("layout", list(_clean_layouts()))
def test_all_valid_returns_what_pandera_returns_for_a_clean_frame(layout: str) -> None:
    frame = _clean_layouts()[layout]
    expected = frame_schema().validate(frame, lazy=True)
    pd.testing.assert_frame_equal(all_valid(frame), expected)
    pd.testing.assert_frame_equal(split_valid(frame)[0], expected)


# One bad cell each: every rule of the schema, and the layouts that break a dtype.
BREAKS = {
    "CreditScore below its minimum": ("CreditScore", 299),
    "Age above its maximum": ("Age", 101),
    "Tenure below its minimum": ("Tenure", -1),
    "NumOfProducts above its maximum": ("NumOfProducts", 5),
    "HasCrCard not 0/1": ("HasCrCard", 2),
    "IsActiveMember not 0/1": ("IsActiveMember", -1),
    "Geography not a category": ("Geography", "Atlantis"),
    "Gender null": ("Gender", None),
    "Geography a number": ("Geography", 1),
    "Balance negative": ("Balance", -0.01),
    "Balance null": ("Balance", np.nan),
    "EstimatedSalary null": ("EstimatedSalary", None),
    "Age a fraction (the column becomes float)": ("Age", 40.5),
    "Age a whole float (the column becomes float)": ("Age", 40.0),
    "Tenure text (the column becomes object)": ("Tenure", "3"),
    "Balance text (the column becomes object)": ("Balance", "many"),
}


@pytest.mark.parametrize("case", list(BREAKS))
def test_all_valid_passes_no_frame_that_pandera_refuses(case: str) -> None:
    column, value = BREAKS[case]
    frame = generate(50, seed=8)
    frame[column] = frame[column].astype(object)
    frame.loc[17, column] = value
    frame = frame.infer_objects()
    with pytest.raises(SchemaErrors):
        frame_schema().validate(frame, lazy=True)
    assert all_valid(frame) is None


def test_all_valid_leaves_unusual_layouts_and_missing_columns_to_pandera() -> None:
    frame = generate(50, seed=8)
    assert all_valid(frame.astype({"Balance": "float32"})) is None  # pandera coerces it
    assert all_valid(frame.iloc[:0]) is None
    assert all_valid(frame.drop(columns=["Age"])) is None
    assert all_valid(pd.concat([frame, frame[["Age"]]], axis=1)) is None


def test_split_valid_keeps_the_other_rows_when_some_are_bad() -> None:
    frame = generate(200, seed=8)
    frame.loc[[3, 150], "Age"] = 150
    valid, failures = split_valid(frame)
    assert [(f["row"], f["field"]) for f in failures] == [(4, "Age"), (151, "Age")]
    keep = ~frame.index.isin([3, 150])
    pd.testing.assert_frame_equal(valid, frame_schema().validate(frame[keep]))


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_read_file_is_the_chunks_joined(tmp_path, suffix: str) -> None:
    frame = generate(2_500, seed=4)
    frame.insert(0, "CustomerId", range(2_500))
    frame.insert(0, "Surname", "x")
    path = tmp_path / f"data{suffix}"
    if suffix == ".parquet":  # several row groups, and an index stored as a column
        frame.set_axis(range(5, 2_505)).to_parquet(path, index=True, row_group_size=1_000)
    else:
        write_frame(frame, path)
    joined = pd.concat(list(iter_chunks(path, chunk_rows=1_000)), ignore_index=True)
    pd.testing.assert_frame_equal(read_file(path), joined)
