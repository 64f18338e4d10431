#!/usr/bin/env bash
# Creates the SageMaker execution role for the churn endpoint with a least-privilege inline policy
# (S3 only under s3://BUCKET/PREFIX, logs and metrics under /aws/sagemaker, pull of one ECR
# repository), and optionally a deployer policy for the person or CI job running
# `sagemaker-handler deploy`. Idempotent: re-running updates the policies.
#
#   infra/sagemaker/setup-role.sh --bucket my-models [--prefix churn/sagemaker] [--role-name churn-sagemaker]
#       [--region eu-west-1] [--account-id 123456789012] [--kms-key-arn ARN]
#       [--ecr-repository churn-sagemaker-handler] [--name-prefix churn] [--deployer-user NAME]
#       [--dry-run]   render the policy documents and exit, without calling AWS (--print: the same)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUCKET="${SAGEMAKER_BUCKET:-}"
PREFIX="churn/sagemaker"
ROLE_NAME="churn-sagemaker"
REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-eu-west-1}}"
ACCOUNT_ID=""
KMS_KEY_ARN=""
ECR_REPOSITORY="churn-sagemaker-handler"
NAME_PREFIX="churn"
DEPLOYER_USER=""
PRINT_ONLY=0

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --bucket) BUCKET="$2"; shift 2 ;;
    --prefix) PREFIX="$2"; shift 2 ;;
    --role-name) ROLE_NAME="$2"; shift 2 ;;
    --region) REGION="$2"; shift 2 ;;
    --account-id) ACCOUNT_ID="$2"; shift 2 ;;
    --kms-key-arn) KMS_KEY_ARN="$2"; shift 2 ;;
    --ecr-repository) ECR_REPOSITORY="$2"; shift 2 ;;
    --name-prefix) NAME_PREFIX="$2"; shift 2 ;;
    --deployer-user) DEPLOYER_USER="$2"; shift 2 ;;
    --dry-run|--print) PRINT_ONLY=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument: $1" >&2; usage 2 ;;
  esac
done

PREFIX="${PREFIX#/}"; PREFIX="${PREFIX%/}"
[[ -n "$BUCKET" ]] || { echo "error: --bucket is required" >&2; exit 2; }
[[ -n "$PREFIX" ]] || { echo "error: --prefix must not be empty (the role would see the whole bucket)" >&2; exit 2; }
for value in "$BUCKET" "$PREFIX" "$ROLE_NAME" "$ECR_REPOSITORY" "$NAME_PREFIX"; do
  if [[ "$value" == *"*"* || "$value" == *"?"* ]]; then
    echo "error: wildcards are not allowed in names: $value" >&2; exit 2
  fi
done
if [[ -z "$ACCOUNT_ID" ]]; then
  if [[ "$PRINT_ONLY" == 1 ]]; then ACCOUNT_ID="123456789012"
  else ACCOUNT_ID="$(aws sts get-caller-identity --query Account --output text)"; fi
fi

render() {
  sed -e "s|\${BUCKET}|${BUCKET}|g" -e "s|\${PREFIX}|${PREFIX}|g" -e "s|\${REGION}|${REGION}|g" \
      -e "s|\${ACCOUNT_ID}|${ACCOUNT_ID}|g" -e "s|\${ECR_REPOSITORY}|${ECR_REPOSITORY}|g" \
      -e "s|\${NAME_PREFIX}|${NAME_PREFIX}|g" -e "s|\${ROLE_NAME}|${ROLE_NAME}|g" \
      -e "s|\${KMS_KEY_ARN}|${KMS_KEY_ARN}|g" "$here/$1"
}

if [[ "$PRINT_ONLY" == 1 ]]; then
  for doc in execution-role-trust.json execution-role-policy.json deployer-policy.json; do
    echo "=== $doc"; render "$doc"
  done
  if [[ -n "$KMS_KEY_ARN" ]]; then echo "=== kms-policy.json"; render kms-policy.json; fi
  exit 0
fi

tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
for doc in execution-role-trust.json execution-role-policy.json deployer-policy.json kms-policy.json; do
  render "$doc" > "$tmp/$doc"
done

if aws iam get-role --role-name "$ROLE_NAME" >/dev/null 2>&1; then
  echo "role $ROLE_NAME exists: updating its trust policy"
  aws iam update-assume-role-policy --role-name "$ROLE_NAME" --policy-document "file://$tmp/execution-role-trust.json"
else
  aws iam create-role --role-name "$ROLE_NAME" \
    --description "SageMaker execution role for the churn endpoint" \
    --assume-role-policy-document "file://$tmp/execution-role-trust.json" >/dev/null
  echo "created role $ROLE_NAME"
fi
aws iam put-role-policy --role-name "$ROLE_NAME" --policy-name churn-sagemaker-execution \
  --policy-document "file://$tmp/execution-role-policy.json"
if [[ -n "$KMS_KEY_ARN" ]]; then
  aws iam put-role-policy --role-name "$ROLE_NAME" --policy-name churn-sagemaker-kms \
    --policy-document "file://$tmp/kms-policy.json"
fi
if [[ -n "$DEPLOYER_USER" ]]; then
  aws iam put-user-policy --user-name "$DEPLOYER_USER" --policy-name churn-sagemaker-deployer \
    --policy-document "file://$tmp/deployer-policy.json"
  echo "deployer policy attached to user $DEPLOYER_USER"
fi
echo "SAGEMAKER_ROLE_ARN=arn:aws:iam::${ACCOUNT_ID}:role/${ROLE_NAME}"
