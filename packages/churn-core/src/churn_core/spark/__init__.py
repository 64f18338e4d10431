"""Apache Spark engine (extra ``churn-core[spark]``): the same scoring and drift as the single
process, spread over a cluster's executors.

``session`` builds the SparkSession (the workers' Python, one LightGBM thread per task slot),
``io`` reads and writes Parquet/CSV on any Hadoop path (local, s3a://, gs://), ``scoring`` runs
``churn_core.Predictor`` inside ``mapInPandas`` and splits scored from rejected rows, ``drift``
computes the drift report from Spark aggregations, ``job`` is what ``churn-core … --engine spark``
and ``spark-submit -m churn_core.spark.job`` run. pyspark is imported only here, never by the
rest of churn_core.
"""

from churn_core.spark.scoring import ScoredFrames, score_frame
from churn_core.spark.session import spark_session

__all__ = ["ScoredFrames", "score_frame", "spark_session"]
