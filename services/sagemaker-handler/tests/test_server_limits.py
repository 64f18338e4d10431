"""What `serve` does under load and on shutdown, against real `serve` processes on loopback."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

from churn_core.predictor import COMPILE_SINGLE_ROW_ENV
from churn_testing import free_port

from .smh_helpers import HandlerServer, csv_rows, start_serve

BATCH_ROWS = 2_000  # explained: seconds of predict_fn on this machine, well under 25 s


def big_batch(customers: list[dict[str, Any]]) -> bytes:
    rows = csv_rows(customers)
    return (rows * (BATCH_ROWS // len(customers))).encode()


def post_batch(url_port: int, body: bytes, result: dict[str, Any]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", url_port, timeout=300)
    try:
        headers = {"Content-Type": "text/csv", "X-Amzn-SageMaker-Custom-Attributes": "explain=true"}
        connection.request("POST", "/invocations", body, headers)
        response = connection.getresponse()
        result["status"], result["body"] = response.status, response.read()
    except OSError as exc:
        result["error"] = exc
    finally:
        connection.close()


def port_of(server: HandlerServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def ping(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/ping")
        return connection.getresponse().status
    finally:
        connection.close()


def thread_count(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError(f"no thread count for {pid}")


def test_ping_answers_while_a_big_batch_is_predicted(server: HandlerServer, customers):
    result: dict[str, Any] = {}
    port = port_of(server)
    batch = threading.Thread(target=post_batch, args=(port, big_batch(customers), result))
    batch.start()
    answered_during_batch = 0
    while batch.is_alive():
        assert ping(port) == 200
        if batch.is_alive():  # the batch had not been answered when this ping was
            answered_during_batch += 1
    batch.join()
    assert result.get("status") == 200, result
    assert len(json.loads(result["body"])["predictions"]) == BATCH_ROWS
    assert answered_during_batch >= 3


def http_ping_on(sock: socket.socket) -> int:
    sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.read()
    return response.status


def test_connections_over_the_limit_get_503_not_a_hang(tarball: Path):
    limit = 4
    port = free_port()
    held: list[socket.socket] = []
    with start_serve(tarball, port, options=("--max-connections", str(limit))) as running:
        running.wait_ready(90)
        statuses = []
        for _ in range(limit + 2):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            held.append(sock)
            statuses.append(http_ping_on(sock))  # kept alive: each stays open and counted
        # uvicorn counts the connection being served too: 200 while fewer than `limit` are
        # open, then 503 at once (the 10 s socket timeout would fail a hang).
        assert statuses == [200] * (limit - 1) + [503] * 3, statuses
        for sock in held:
            sock.close()
        deadline = time.monotonic() + 30
        while ping(port) != 200:  # closed connections free their places
            assert time.monotonic() < deadline, "the server stayed at its limit"
            time.sleep(0.05)


def test_sigterm_finishes_the_request_in_flight_then_exits_0(tarball: Path, customers):
    port = free_port()
    # No background compile of the single-row path here: its thread ends on its own time, and
    # the count below must move only with the handler's executor (a compile ending while the
    # batch ran once hid the executor's first thread, and the batch finished unseen).
    env = {COMPILE_SINGLE_ROW_ENV: "0"}
    with start_serve(tarball, port, env=env) as running:
        running.wait_ready(90)
        idle_threads = thread_count(running.pid)
        result: dict[str, Any] = {}
        batch = threading.Thread(target=post_batch, args=(port, big_batch(customers), result))
        batch.start()
        # The executor starts its first worker thread when the handler is first called: from
        # then on the request is in flight inside predict.
        deadline = time.monotonic() + 60
        while thread_count(running.pid) <= idle_threads:
            assert batch.is_alive(), result
            assert time.monotonic() < deadline, "the batch never reached the handler"
            time.sleep(0.01)
        running.process.terminate()  # SIGTERM, as SageMaker stops a container
        batch.join()
        assert result.get("status") == 200, (result, running.output())
        assert len(json.loads(result["body"])["predictions"]) == BATCH_ROWS
        assert running.wait(timeout=60) == 0
        output = running.output()
    assert "Traceback" not in output
    # The loaded heap was frozen out of garbage collection before /ping said ready.
    frozen = re.search(r"ready \((\d+) objects frozen", output)
    assert frozen and int(frozen.group(1)) > 10_000, output[-2000:]


def test_payload_over_6_mib_is_413_before_the_body_is_read(server: HandlerServer):
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=10) as sock:
        head = "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        sock.sendall(f"{head}Content-Length: {6 * 1024 * 1024 + 1}\r\n\r\n".encode())
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 413
        assert json.loads(response.read()) == {"error": "payload over 6 MB"}
        assert response.getheader("connection") == "close"


def test_chunked_payload_over_6_mib_is_413(server: HandlerServer):
    """No Content-Length to check beforehand: the server counts what it reads."""
    chunk = b"x" * (1024 * 1024)
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=30) as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for piece in [chunk] * 6 + [b"x"]:
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        sock.sendall(b"0\r\n\r\n")
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 413
        assert json.loads(response.read()) == {"error": "payload over 6 MB"}


def test_a_stalled_request_head_is_408_and_closed():
    """churn_core.http_protocol on the real uvicorn server (in a thread, short deadline): a
    client that never finishes its head gives its place back."""
    from concurrent.futures import ThreadPoolExecutor

    from sagemaker_handler.handler import HandlerState
    from sagemaker_handler.server import Limits, bind, make_server

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    with ThreadPoolExecutor(1) as executor:
        server = make_server(HandlerState(), executor, Limits(header_seconds=0.5))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
                client.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                response = http.client.HTTPResponse(client)
                response.begin()
                assert response.status == 408
                response.read()
                assert client.recv(1) == b""  # closed by the server
            assert ping(port) == 503  # still serving (the model was never loaded)
        finally:
            server.should_exit = True
            thread.join(30)
