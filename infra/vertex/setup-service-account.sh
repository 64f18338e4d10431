#!/usr/bin/env bash
# Least-privilege service accounts for the churn model on Vertex AI.
#
#   churn-vertex-serving   runs the serving container (the deployed model's service account):
#                          reads the model bucket, writes logs and metrics. Nothing else.
#   churn-vertex-deployer  runs `vertex-predictor upload|deploy|test|status|delete|batch` (CI):
#                          Vertex AI user, writes bundles to the model bucket only, and may
#                          attach the serving account to deployments (actAs on that account only).
#
# No project-wide storage role and no basic role (owner, editor). Idempotent: safe to re-run.
#
# Usage: PROJECT_ID=my-project MODEL_BUCKET=my-churn-models ./setup-service-account.sh [--dry-run]
#        --dry-run (or DRY_RUN=1) prints the gcloud commands instead of running them.
set -euo pipefail

for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (only --dry-run)" >&2; exit 2 ;;
  esac
done

: "${PROJECT_ID:?set PROJECT_ID}"
: "${MODEL_BUCKET:?set MODEL_BUCKET (bucket name, without gs://)}"
SERVING_SA_NAME="${SERVING_SA_NAME:-churn-vertex-serving}"
DEPLOYER_SA_NAME="${DEPLOYER_SA_NAME:-churn-vertex-deployer}"
DRY_RUN="${DRY_RUN:-0}"

SERVING_SA="${SERVING_SA_NAME}@${PROJECT_ID}.iam.gserviceaccount.com"
DEPLOYER_SA="${DEPLOYER_SA_NAME}@${PROJECT_ID}.iam.gserviceaccount.com"

# Project-level roles. Keep this list short; bucket-scoped access goes below.
SERVING_PROJECT_ROLES=(
  roles/logging.logWriter
  roles/monitoring.metricWriter
)
DEPLOYER_PROJECT_ROLES=(
  roles/aiplatform.user
)
# Roles on the model bucket only.
SERVING_BUCKET_ROLES=(
  roles/storage.objectViewer
)
DEPLOYER_BUCKET_ROLES=(
  roles/storage.objectAdmin
)

run() {
  if [[ "${DRY_RUN}" == "1" ]]; then
    printf '%q ' "$@"
    printf '\n'
  else
    "$@"
  fi
}

ensure_service_account() {
  local name="$1" description="$2"
  if [[ "${DRY_RUN}" != "1" ]] &&
    gcloud iam service-accounts describe "${name}@${PROJECT_ID}.iam.gserviceaccount.com" \
      --project="${PROJECT_ID}" >/dev/null 2>&1; then
    echo "service account ${name} exists" >&2
    return
  fi
  run gcloud iam service-accounts create "${name}" \
    --project="${PROJECT_ID}" --display-name="${description}"
}

grant_project_role() {
  local member="$1" role="$2"
  run gcloud projects add-iam-policy-binding "${PROJECT_ID}" \
    --member="serviceAccount:${member}" --role="${role}" --condition=None --quiet
}

grant_bucket_role() {
  local member="$1" role="$2"
  run gcloud storage buckets add-iam-policy-binding "gs://${MODEL_BUCKET}" \
    --member="serviceAccount:${member}" --role="${role}"
}

ensure_service_account "${SERVING_SA_NAME}" "Churn model: Vertex AI serving container"
ensure_service_account "${DEPLOYER_SA_NAME}" "Churn model: Vertex AI deploy tooling"

for role in "${SERVING_PROJECT_ROLES[@]}"; do grant_project_role "${SERVING_SA}" "${role}"; done
for role in "${DEPLOYER_PROJECT_ROLES[@]}"; do grant_project_role "${DEPLOYER_SA}" "${role}"; done
for role in "${SERVING_BUCKET_ROLES[@]}"; do grant_bucket_role "${SERVING_SA}" "${role}"; done
for role in "${DEPLOYER_BUCKET_ROLES[@]}"; do grant_bucket_role "${DEPLOYER_SA}" "${role}"; done

# The deployer may deploy models that run as the serving account, and nothing else may.
run gcloud iam service-accounts add-iam-policy-binding "${SERVING_SA}" \
  --project="${PROJECT_ID}" \
  --member="serviceAccount:${DEPLOYER_SA}" --role=roles/iam.serviceAccountUser

echo "serving account:  ${SERVING_SA}  (vertex-predictor deploy --service-account ${SERVING_SA})" >&2
echo "deployer account: ${DEPLOYER_SA}" >&2
