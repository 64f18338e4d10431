"""Reading and writing Spark DataFrames on any Hadoop path: local, s3a://, gs:// (the cloud
connectors are the cluster's). The format is the path's extension, as for the single process;
Spark writes a directory of part files at the output path."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from churn_core.data import DataValidationError
from churn_core.schema import FEATURES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_FORMATS = {".parquet": "parquet", ".csv": "csv", ".gz": "csv", ".jsonl": "json", ".json": "json"}
_SPARK_TYPES = {"int": "bigint", "float": "double", "category": "string"}


def path_format(path: str) -> str:
    """parquet, csv or json from the extension; a local directory without one by its files."""
    suffix = Path(path.rstrip("/")).suffix
    if suffix in _FORMATS:
        return _FORMATS[suffix]
    local = Path(path)
    if "://" not in path and local.is_dir():
        for pattern, fmt in (("*.parquet", "parquet"), ("*.csv*", "csv"), ("*.json*", "json")):
            if any(local.rglob(pattern)):
                return fmt
    raise DataValidationError(
        [{"row": None, "field": "(file)", "value": path, "check": "format"}],
        f"{path}: unknown format (name it .parquet, .csv or .jsonl)",
    )


def _csv(spark: SparkSession, path: str) -> DataFrame:
    """CSV with the features typed by the schema (other columns as text): a cell that is not a
    number reads as null and its row is rejected naming the field, as pandas would."""
    header = spark.read.option("header", True).csv(path).columns
    kinds = {spec.name: _SPARK_TYPES[spec.kind] for spec in FEATURES}
    schema = ", ".join(f"`{name}` {kinds.get(name, 'string')}" for name in header)
    return spark.read.option("header", True).option("mode", "PERMISSIVE").csv(path, schema=schema)


def _json(spark: SparkSession, path: str) -> DataFrame:
    """JSON lines: flat customer records, or the services' capture records (customer under
    ``features``)."""
    frame = spark.read.json(path)
    if "features" not in frame.columns:
        return frame
    others = [f"`{c}`" for c in frame.columns if c != "features"]
    return frame.selectExpr("features.*", *others)


def read_frame(spark: SparkSession, path: str) -> DataFrame:
    fmt = path_format(path)
    if fmt == "parquet":
        return spark.read.parquet(path)
    return _csv(spark, path) if fmt == "csv" else _json(spark, path)


def write_frame(frame: DataFrame, path: str) -> None:
    """Overwrite ``path`` with ``frame`` in the format its extension names (nested columns
    become JSON text in CSV)."""
    from pyspark.sql import functions as F

    fmt = path_format(path)
    writer = frame.write.mode("overwrite")
    if fmt == "parquet":
        writer.parquet(path)
    elif fmt == "json":
        writer.json(path)
    else:
        nested = {
            f.name for f in frame.schema.fields if f.dataType.typeName() in ("array", "struct")
        }
        flat = frame.withColumns({name: F.to_json(name) for name in nested}) if nested else frame
        flat.write.mode("overwrite").option("header", True).csv(path)
