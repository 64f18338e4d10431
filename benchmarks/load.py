"""Load generation for the serving benchmarks: wrk (Debian's ``wrk``) when present, else a
Python asyncio generator; both keep connections alive and report p50, p95 and requests/s."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


WRK_SCRIPT = """
local bodies = {BODIES}
local headers = {HEADERS}
local requests = {}
local i = 0
function init(args)
  for n, body in ipairs(bodies) do
    requests[n] = wrk.format("POST", nil, headers, body)
  end
end
function request()
  i = i % #requests + 1
  return requests[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


Headers = Mapping[str, str]


def _headers(extra: Headers | None) -> dict[str, str]:
    return {"Content-Type": "application/json", **(extra or {})}


def run_wrk(
    url: str, bodies: list[bytes], concurrency: int, seconds: float, headers: Headers | None = None
) -> Result:
    lua_bodies = "{" + ",".join("[==[" + b.decode() + "]==]" for b in bodies) + "}"
    lua_headers = "{" + ",".join(f'["{k}"] = "{v}"' for k, v in _headers(headers).items()) + "}"
    script_text = WRK_SCRIPT.replace("{BODIES}", lua_bodies).replace("{HEADERS}", lua_headers)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(script_text)
    try:
        command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:.0f}s", "--timeout", "30s"]
        output = subprocess.run(
            [*command, "-s", script.name, url], capture_output=True, text=True, check=True
        ).stdout
    finally:
        os.unlink(script.name)
    line = next(s for s in output.splitlines() if s.startswith("RESULT "))
    requests, duration_us, p50_us, p95_us, errors = map(int, line.split()[1:])
    return Result(requests, duration_us / 1e6, p50_us / 1e3, p95_us / 1e3, errors)


async def _python_load(
    url: str, bodies: list[bytes], concurrency: int, seconds: float, headers: Headers | None
) -> Result:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    raw = [
        (
            f"POST {target} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in _headers(headers).items())
            + f"Content-Length: {len(b)}\r\n\r\n"
        ).encode()
        + b
        for b in bodies
    ]
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        i = offset
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(raw[i % len(raw)])
            i += 1
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            errors += status >= 400
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1e3

    return Result(len(latencies), elapsed, pct(0.50), pct(0.95), errors)


def load(
    url: str, bodies: list[bytes], concurrency: int, seconds: float, headers: Headers | None = None
) -> Result:
    if shutil.which("wrk"):
        return run_wrk(url, bodies, concurrency, seconds, headers)
    return asyncio.run(_python_load(url, bodies, concurrency, seconds, headers))
