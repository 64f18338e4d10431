"""kserve's Open Inference Protocol clients against a running serving-api.

Run by tests/test_v2_kserve_clients.py with the python of a virtual environment of its own,
built from kserve-requirements.txt beside this file (kserve cannot join the workspace lock).
It reads a job as JSON on standard input:

    {"rest": "http://127.0.0.1:PORT", "grpc": "127.0.0.1:PORT", "model": "churn", "key": "...",
     "batches": [[customer, ...], ...], "bad": [{"customers": [...], "changes": {...}}, ...]}

and prints one JSON object: for each of "rest-binary", "rest-json" and "grpc", what the server
answered (health, metadata, outputs of each batch, errors of each bad request, the API key
checks; over REST, whether the answer carried binary tensors). It asserts nothing: the test
holds the answers against POST /predict.

kserve 0.21's clients (InferenceRESTClient, InferenceGRPCClient) have no metadata call; model
and server metadata are read with httpx (REST) and kserve's generated gRPC stub.
"""

from __future__ import annotations

import asyncio
import json
import sys
from importlib.metadata import version
from typing import Any

import grpc
import httpx
import numpy as np
from google.protobuf.json_format import MessageToDict
from kserve import (
    InferenceGRPCClient,
    InferenceRESTClient,
    InferInput,
    InferRequest,
    RESTConfig,
)
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc
from kserve.protocol.infer_type import RequestedOutput

OUTPUTS = ("churn_probability", "churn_prediction", "risk_level")


def request(
    model: str, customers: list[dict[str, Any]], mode: str, changes: dict[str, Any] | None = None
) -> InferRequest:
    """One InferInput per feature, typed by its Python values; ``changes`` renames an input
    (``name``) or sends it as another datatype (``datatype``: FP32)."""
    inputs = []
    for name in customers[0]:
        values = [c[name] for c in customers]
        if isinstance(values[0], str):
            array, datatype = np.array([v.encode() for v in values], dtype=np.object_), "BYTES"
        elif isinstance(values[0], float):
            array, datatype = np.array(values, dtype=np.float64), "FP64"
        else:
            array, datatype = np.array(values, dtype=np.int64), "INT64"
        change = (changes or {}).get(name, {})
        if change.get("datatype") == "FP32":
            array, datatype = array.astype(np.float32), "FP32"
        tensor = InferInput(change.get("name", name), [len(customers)], datatype)
        if mode == "rest-json":
            tensor.set_data_from_numpy(array, binary_data=False)
        else:
            tensor.set_data_from_numpy(array)  # kserve's default: binary
        inputs.append(tensor)
    if mode == "rest-binary":
        outputs = [RequestedOutput(n, parameters={"binary_data": True}) for n in OUTPUTS]
    else:
        outputs = [RequestedOutput(n) for n in OUTPUTS]
    return InferRequest(model, inputs, request_outputs=outputs)


def bad(model: str, case: dict[str, Any], mode: str) -> InferRequest:
    return request(model, case["customers"], mode, case.get("changes"))


def tensors(response: Any) -> dict[str, Any]:
    result = {}
    for output in response.outputs:
        values = output.as_numpy().tolist()
        result[output.name] = [v.decode() if isinstance(v, bytes) else v for v in values]
    return result


def failure(error: BaseException) -> dict[str, Any]:
    if isinstance(error, httpx.HTTPStatusError):
        return {"status": str(error.response.status_code), "message": str(error)}
    if isinstance(error, grpc.RpcError):
        return {"status": error.code().name, "message": error.details()}
    return {"status": "client", "message": f"{type(error).__name__}: {error}"}


async def attempt(call: Any) -> dict[str, Any]:
    try:
        return {"ok": await call}
    except Exception as error:
        return failure(error)


async def run_rest(job: dict[str, Any], mode: str) -> dict[str, Any]:
    base, model, key = job["rest"], job["model"], job.get("key")

    def auth() -> dict[str, str]:
        return {"x-api-key": key} if key else {}

    async def infer(client: InferenceRESTClient, req: InferRequest, headers: dict[str, str]):
        answer: dict[str, str] = {}
        response = await client.infer(
            base, req, model_name=model, headers=headers, response_headers=answer
        )
        # Binary outputs come after a JSON head whose length this header gives.
        return {**tensors(response), "binary": "inference-header-content-length" in answer}

    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=30))
    async with client, httpx.AsyncClient(base_url=base, timeout=30) as plain:
        result: dict[str, Any] = {
            "live": await client.is_server_live(base),
            "ready": await client.is_server_ready(base),
            "model_ready": await client.is_model_ready(base, model, headers=auth()),
            "model_metadata": (await plain.get(f"/v2/models/{model}", headers=auth())).json(),
            "server_metadata": (await plain.get("/v2")).json(),
            "batches": [
                await attempt(infer(client, request(model, b, mode), auth()))
                for b in job["batches"]
            ],
            "bad": [await attempt(infer(client, bad(model, b, mode), auth())) for b in job["bad"]],
        }
        if key:
            one = job["batches"][0]
            result["auth"] = {
                "model_ready_without_key": await client.is_model_ready(base, model),
                "without_key": await attempt(infer(client, request(model, one, mode), {})),
                "wrong_key": await attempt(
                    infer(client, request(model, one, mode), {"x-api-key": "no"})
                ),
                "with_key": await attempt(infer(client, request(model, one, mode), auth())),
            }
    return result


async def run_grpc(job: dict[str, Any]) -> dict[str, Any]:
    address, model, key = job["grpc"], job["model"], job.get("key")
    metadata = (("x-api-key", key),) if key else ()

    async def infer(client: InferenceGRPCClient, req: InferRequest, headers: Any):
        return tensors(await client.infer(req, headers=headers))

    client = InferenceGRPCClient(address, timeout=30, retries=0)
    async with client, grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        model_metadata = await stub.ModelMetadata(
            pb.ModelMetadataRequest(name=model), metadata=metadata
        )
        server_metadata = await stub.ServerMetadata(pb.ServerMetadataRequest())
        result: dict[str, Any] = {
            "live": await client.is_server_live(),
            "ready": await client.is_server_ready(),
            "model_ready": await client.is_model_ready(model, headers=metadata),
            "model_metadata": MessageToDict(model_metadata, preserving_proto_field_name=True),
            "server_metadata": MessageToDict(server_metadata, preserving_proto_field_name=True),
            "batches": [
                await attempt(infer(client, request(model, b, "grpc"), metadata))
                for b in job["batches"]
            ],
            "bad": [
                await attempt(infer(client, bad(model, b, "grpc"), metadata)) for b in job["bad"]
            ],
        }
        if key:
            one = job["batches"][0]
            result["auth"] = {
                "model_ready_without_key": await attempt(client.is_model_ready(model)),
                "without_key": await attempt(infer(client, request(model, one, "grpc"), ())),
                "wrong_key": await attempt(
                    infer(client, request(model, one, "grpc"), (("x-api-key", "no"),))
                ),
                "with_key": await attempt(infer(client, request(model, one, "grpc"), metadata)),
            }
    return result


async def main() -> None:
    job = json.load(sys.stdin)
    result: dict[str, Any] = {"kserve": version("kserve")}
    for mode in ("rest-binary", "rest-json"):
        result[mode] = await run_rest(job, mode)
    result["grpc"] = await run_grpc(job)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
