"""The container contract against `sagemaker-handler serve` running the real tarball."""

from __future__ import annotations

import csv
import io
import json
import tarfile
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from churn_testing import free_port
from sagemaker_handler.handler import HandlerState
from sagemaker_handler.server import Limits, bind, make_server

from .smh_helpers import (
    BAD_CSV_CELLS,
    FEATURES,
    MALFORMED_BODIES,
    UNSUPPORTED_ACCEPTS,
    UNSUPPORTED_CONTENT_TYPES,
    HandlerServer,
    csv_rows,
    start_serve,
)


def probabilities(body: bytes) -> list[float]:
    return [p["churn_probability"] for p in json.loads(body)["predictions"]]


def direct(predictor: Any, customers: list[dict[str, Any]]) -> list[float]:
    return [p.churn_probability for p in predictor.predict(customers)]


def assert_close(served: list[float], expected: list[float], tolerance: float = 1e-9) -> None:
    assert len(served) == len(expected)
    assert max(abs(a - b) for a, b in zip(served, expected, strict=True)) <= tolerance


def test_ping_is_200_once_loaded_and_port_comes_from_the_environment(server: HandlerServer):
    status, _, body = server.request("GET", "/ping")
    assert status == 200
    assert body == b""


def test_one_customer_object(server: HandlerServer, customers, predictor):
    status, headers, body = server.invoke(customers[0])
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert answer["model_version"] == predictor.model_version
    (prediction,) = answer["predictions"]
    assert set(prediction) == {
        "churn_probability",
        "churn_prediction",
        "risk_level",
        "model_version",
    }
    assert_close(probabilities(body), direct(predictor, customers[:1]))


def test_list_and_instances_give_the_same_answer_as_churn_core(server, customers, predictor):
    expected = direct(predictor, customers)
    for body in (customers, {"instances": customers}):
        status, _, answer = server.invoke(body)
        assert status == 200
        assert_close(probabilities(answer), expected)


def test_csv_rows_in_schema_order(server, customers, predictor):
    status, _, body = server.invoke(csv_rows(customers), "text/csv")
    assert status == 200
    assert_close(probabilities(body), direct(predictor, customers))


def test_json_lines(server, customers, predictor):
    lines = "".join(json.dumps(c) + "\n" for c in customers)
    status, headers, body = server.invoke(
        lines, "application/jsonlines", Accept="application/jsonlines"
    )
    assert status == 200
    assert headers["Content-Type"] == "application/jsonlines"
    served = [json.loads(line)["churn_probability"] for line in body.decode().splitlines()]
    assert_close(served, direct(predictor, customers))


def test_accept_csv_gives_one_line_per_customer(server, customers, predictor):
    status, headers, body = server.invoke(customers[:5], Accept="text/csv")
    assert status == 200
    assert headers["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(body.decode())))
    expected = predictor.predict(customers[:5])
    assert [float(r[0]) for r in rows] == [p.churn_probability for p in expected]
    assert [(int(r[1]), r[2], r[3]) for r in rows] == [
        (p.churn_prediction, p.risk_level, p.model_version) for p in expected
    ]


@pytest.mark.parametrize("accept", ["*/*", "application/json; charset=utf-8", "text/html, */*"])
def test_accept_defaults_to_json(server, customers, accept):
    status, headers, _ = server.invoke(customers[0], Accept=accept)
    assert status == 200
    assert headers["Content-Type"] == "application/json"


def test_content_type_with_charset(server, customers, predictor):
    status, _, body = server.invoke(customers[:3], "application/json; charset=utf-8")
    assert status == 200
    assert_close(probabilities(body), direct(predictor, customers[:3]))


def check_explanations(predictions: list[dict[str, Any]]) -> None:
    for p in predictions:
        contributions = p["feature_contributions"]
        assert set(contributions) == set(FEATURES)
        total = p["base_value"] + sum(contributions.values())
        assert abs(total - p["churn_probability"]) <= 1e-6


def test_explain_in_parameters(server, customers):
    body = {"instances": customers[:10], "parameters": {"explain": True}}
    status, _, answer = server.invoke(body)
    assert status == 200
    check_explanations(json.loads(answer)["predictions"])


def test_explain_in_custom_attributes_header(server, customers):
    status, _, answer = server.invoke(
        csv_rows(customers[:10]), "text/csv",
        X_Amzn_SageMaker_Custom_Attributes="trace=abc, explain=true",
    )  # fmt: skip
    assert status == 200
    check_explanations(json.loads(answer)["predictions"])
    status, _, plain = server.invoke(customers[:1])
    assert "feature_contributions" not in json.loads(plain)["predictions"][0]


def test_explain_as_csv_columns_add_up(server, customers):
    status, _, body = server.invoke(
        customers[:5], Accept="text/csv", X_Amzn_SageMaker_Custom_Attributes="explain=true"
    )
    assert status == 200
    for row in csv.reader(io.StringIO(body.decode())):
        assert len(row) == 4 + 1 + len(FEATURES)
        assert abs(sum(map(float, row[4:])) - float(row[0])) <= 1e-6


@pytest.mark.parametrize("content_type", UNSUPPORTED_CONTENT_TYPES)
def test_unsupported_content_type_is_415(server, customers, content_type):
    status, headers, body = server.invoke(json.dumps(customers[0]), content_type)
    assert status == 415
    assert headers["Content-Type"] == "application/json"
    assert "unsupported content type" in json.loads(body)["error"]


@pytest.mark.parametrize("accept", UNSUPPORTED_ACCEPTS)
def test_unsupported_accept_is_406(server, customers, accept):
    status, _, body = server.invoke(customers[0], Accept=accept)
    assert status == 406
    assert "unsupported accept" in json.loads(body)["error"]


def test_bad_json_field_is_400_naming_the_field(server, customers):
    bad = [dict(customers[0]), {**customers[1], "Age": "45", "Geography": "Mars"}]
    del bad[0]["Tenure"]
    status, _, body = server.invoke(bad)
    assert status == 400
    errors = {(e["index"], e["field"]) for e in json.loads(body)["errors"]}
    assert errors == {(0, "Tenure"), (1, "Age"), (1, "Geography")}


@pytest.mark.parametrize(("row", "field"), BAD_CSV_CELLS)
def test_bad_csv_cell_is_400_naming_the_field(server, row, field):
    status, _, body = server.invoke(row + "\n", "text/csv")
    assert status == 400
    answer = json.loads(body)
    assert [e["field"] for e in answer["errors"]] == [field]
    assert field in answer["error"]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [*MALFORMED_BODIES, (b"\xff\xfe", "text/csv", "UTF-8")],
)
def test_malformed_bodies_are_400(server, body, content_type, message):
    status, _, answer = server.invoke(body, content_type)
    assert status == 400
    assert message in json.loads(answer)["error"]


def test_no_stack_trace_in_any_error(server, customers):
    for body, content_type in [("{", "application/json"), ("x", "text/plain"), ("1", "text/csv")]:
        _, _, answer = server.invoke(body, content_type)
        assert b"Traceback" not in answer
        assert b'File "' not in answer
    status, _, answer = server.request("GET", "/nope")
    assert status == 404
    status, _, answer = server.request("POST", "/ping", b"")
    assert status == 404


def test_runtime_path_answers_like_invocations(server, customers, predictor):
    status, _, body = server.request(
        "POST", "/endpoints/churn/invocations", json.dumps(customers[:2]),
        Content_Type="application/json",
    )  # fmt: skip
    assert status == 200
    assert_close(probabilities(body), direct(predictor, customers[:2]))


def test_ping_is_503_until_model_fn_has_finished(tarball: Path, tmp_path: Path, customers):
    from sagemaker_handler.packaging import extract_tarball

    state = HandlerState()
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with ThreadPoolExecutor(1) as executor:
        server = make_server(state, executor, Limits())
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            one = json.dumps(customers[0]).encode()
            for path, data in (("/ping", None), ("/invocations", one)):
                request = urllib.request.Request(url + path, data=data)
                with pytest.raises(urllib.error.HTTPError) as caught:
                    urllib.request.urlopen(request, timeout=5)
                assert caught.value.code == 503
            state.load(extract_tarball(tarball, tmp_path / "model"))
            with urllib.request.urlopen(url + "/ping", timeout=5) as response:
                assert response.status == 200
        finally:
            server.should_exit = True
            thread.join(10)


def tampered_copy(tarball: Path, dest: Path, member: str = "model.txt") -> Path:
    with tarfile.open(tarball, "r:gz") as src, tarfile.open(dest, "w:gz") as out:
        for info in src.getmembers():
            data = src.extractfile(info).read() if info.isfile() else None
            if info.name == member:
                flipped = bytearray(data)
                flipped[len(flipped) // 2] ^= 0x01
                data = bytes(flipped)
            out.addfile(info, io.BytesIO(data) if data is not None else None)
    return dest


def test_tampered_tarball_is_refused_by_model_fn(tarball: Path, tmp_path: Path):
    from churn_core import BundleError
    from sagemaker_handler.handler import import_inference
    from sagemaker_handler.packaging import extract_tarball

    model_dir = extract_tarball(tampered_copy(tarball, tmp_path / "bad.tar.gz"), tmp_path / "m")
    inference = import_inference(model_dir)
    with pytest.raises(BundleError, match=r"checksum mismatch for model\.txt"):
        inference.model_fn(str(model_dir))


def test_serve_stays_up_unready_on_a_tampered_tarball(tarball: Path, tmp_path: Path):
    bad = tampered_copy(tarball, tmp_path / "bad.tar.gz")
    port = free_port()
    process = start_serve(bad, port)
    try:
        status, body = process.wait_refused()
    finally:
        process.stop()
    stderr = process.output()  # stdout and stderr together
    assert (status, body) == (503, {"error": "model bundle missing or invalid"})
    assert "BundleError" in stderr
    assert "checksum mismatch for model.txt" in stderr
    assert "Traceback" not in stderr


def test_serve_from_an_extracted_model_dir_with_port_flag(tarball: Path, tmp_path: Path, customers):
    """The BYOC image: SageMaker has already extracted model.tar.gz to /opt/ml/model."""
    from sagemaker_handler.packaging import extract_tarball

    model_dir = extract_tarball(tarball, tmp_path / "opt-ml-model")
    running = start_serve(model_dir, free_port(), env={"SAGEMAKER_BIND_TO_PORT": "1"})
    try:
        running.wait_ready(90)
        status, _, body = running.invoke(customers[:2])
        assert status == 200
        assert len(json.loads(body)["predictions"]) == 2
    finally:
        assert running.stop(timeout=15) == 0  # SIGTERM is a clean shutdown
