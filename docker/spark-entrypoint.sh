#!/bin/bash
# Entry point of the churn-spark image (packages/churn-core/Dockerfile.spark), under tini.
#
# Spark on Kubernetes (spark-submit --master k8s://…, and so the Kubeflow Spark operator) starts
# the driver pod with `driver <spark-submit arguments>` and every executor pod with `executor`,
# describing the executor in SPARK_* variables set by Spark's Kubernetes backend. Any other
# command runs as given, e.g. `churn-core score --engine spark --master 'local[2]' …`.
set -euo pipefail

# Connector jars built in with EXTRA_JARS, next to Spark's own (pyspark's package is SPARK_HOME).
extra="/opt/churn/extra-jars/*"

case "${1:-}" in
  driver)
    shift
    # Client mode inside the driver pod: this JVM is the driver; it asks the API server for the
    # executor pods itself.
    exec "$SPARK_HOME/bin/spark-submit" --deploy-mode client \
      --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS:?set by Spark on Kubernetes}" \
      --conf "spark.driver.extraClassPath=$extra" \
      "$@"
    ;;
  executor)
    shift
    # The driver passes the executor's JVM options as SPARK_JAVA_OPT_0, _1, … in order.
    java_opts=()
    n=0
    while name="SPARK_JAVA_OPT_$n" && [ -n "${!name+x}" ]; do
      java_opts+=("${!name}")
      n=$((n + 1))
    done
    exec java "${java_opts[@]}" \
      "-Xms${SPARK_EXECUTOR_MEMORY:?}" "-Xmx${SPARK_EXECUTOR_MEMORY}" \
      -cp "$SPARK_HOME/jars/*:$extra" \
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "${SPARK_DRIVER_URL:?}" \
      --executor-id "${SPARK_EXECUTOR_ID:?}" \
      --cores "${SPARK_EXECUTOR_CORES:?}" \
      --app-id "${SPARK_APPLICATION_ID:?}" \
      --hostname "${SPARK_EXECUTOR_POD_IP:?}" \
      --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
      --podName "${SPARK_EXECUTOR_POD_NAME:-$HOSTNAME}"
    ;;
  *)
    exec "$@"
    ;;
esac
