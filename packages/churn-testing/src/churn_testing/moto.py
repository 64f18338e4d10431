"""A moto server on loopback, the one every test that talks to "AWS" uses."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto's threaded server on a free loopback port and yield its URL. moto keeps its
    state per process, not per server, so it is reset first (moto's own /moto-api/reset)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(reset).close()  # noqa: S310 (http on loopback)
    try:
        yield url
    finally:
        server.stop()
