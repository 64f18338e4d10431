"""Reading an ASGI request body within a size limit: in one message (the fast way) or many."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from churn_core.jsonbody import (
    ClientDisconnected,
    RequestBodyTooLarge,
    asgi_body_chunks,
    read_asgi_body,
    read_limited,
)


def _receive(*messages: dict[str, Any]) -> Any:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def _body(chunk: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.request", "body": chunk, "more_body": more}


CASES = [
    ([_body(b'{"a": 1}')], None, 100),
    ([_body(b"")], None, 100),
    ([{"type": "http.request"}], None, 100),  # body and more_body may be left out
    ([_body(b"ab", True), _body(b"cd", True), _body(b"e")], None, 5),
    ([_body(b"ab", True), _body(b"cd", True), _body(b"ef")], None, 5),  # one past the limit
    ([_body(b"abcdef")], None, 5),
    ([_body(b"abc")], b"6", 5),  # declared too large: refused before reading
    ([_body(b"abc")], b"3", 5),
    ([_body(b"ab", True), {"type": "http.disconnect"}], None, 100),
    ([{"type": "http.disconnect"}], None, 100),
]


async def _outcome(reader: Any) -> Any:
    try:
        return await reader
    except (RequestBodyTooLarge, ClientDisconnected) as error:
        return type(error)


@pytest.mark.parametrize(("messages", "length", "limit"), CASES)
def test_same_outcome_as_the_general_reader(
    messages: list[dict[str, Any]], length: bytes | None, limit: int
) -> None:
    fast = asyncio.run(_outcome(read_asgi_body(_receive(*messages), length, limit)))
    chunks = asgi_body_chunks(_receive(*messages))
    general = asyncio.run(_outcome(read_limited(chunks, length, limit)))
    assert fast == general


def test_outcomes() -> None:
    read = asyncio.run
    assert read(read_asgi_body(_receive(_body(b"ab", True), _body(b"c")), None, 3)) == b"abc"
    with pytest.raises(RequestBodyTooLarge):
        read(read_asgi_body(_receive(_body(b"ab", True), _body(b"cd")), None, 3))
    with pytest.raises(ClientDisconnected):
        read(read_asgi_body(_receive({"type": "http.disconnect"}), None, 3))
