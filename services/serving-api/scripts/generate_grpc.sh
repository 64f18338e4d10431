#!/usr/bin/env bash
# Regenerate serving-api's gRPC stubs from the vendored Open Inference Protocol .proto
# (spec/open-inference-protocol/, see its README for source and commit). Run from anywhere:
#   services/serving-api/scripts/generate_grpc.sh
# grpcio-tools is a dev dependency of the workspace (uv.lock pins it). The -I mapping puts the
# proto under serving_api/grpc_gen/, so the generated modules import each other by package.
set -euo pipefail
cd "$(dirname "$0")/.."
uv run --no-sync python -m grpc_tools.protoc \
    -Iserving_api/grpc_gen=spec/open-inference-protocol \
    --python_out=src --pyi_out=src --grpc_python_out=src \
    serving_api/grpc_gen/open_inference_grpc.proto
