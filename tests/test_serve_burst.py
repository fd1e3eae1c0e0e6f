"""A burst on `verify serve`, as OpenRLHF makes one: 512 connections at once, one sample each.

OpenRLHF (0.10.2+) posts every sample of a rollout as its own request, all at once, and a request
that fails 5 times (1 s apart) loses its reward and crashes the run. Regression: on the standard
library server (listen backlog 5) about a third of 512 simultaneous connections were reset. Every
request here must be answered 200 with a number, the right one.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

CONNECTIONS = 512
PROMPT = "<|im_start|>user\nWhat is 9 + {n}?<|im_end|>\n<|im_start|>assistant\n"


def _sample(n: int) -> tuple[dict, float]:
    prompt = PROMPT.format(n=n)
    if n % 8 == 0:  # needs the symbolic stage (a math worker)
        response, label, expected = r"so $\boxed{\sqrt{4}}$", "2", 1.0
    elif n % 3 == 0:
        response, label, expected = f"#### {9 + n + 1}", str(9 + n), 0.0
    else:
        response, label, expected = f"9 + {n} = {9 + n}\n#### {9 + n}", str(9 + n), 1.0
    body = {"query": [prompt + response + "<|im_end|>"], "prompts": [prompt], "labels": [label]}
    return body, expected


async def _one(port: int, body: bytes, connected: asyncio.Event, ready: list[int]) -> tuple[int, dict]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    ready.append(1)
    await connected.wait()  # every connection is open before any request is sent
    head = (
        f"POST /get_reward HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(payload)


async def _burst(port: int, bodies: list[bytes]) -> list[tuple[int, dict] | BaseException]:
    connected, ready = asyncio.Event(), []
    tasks = [asyncio.create_task(_one(port, b, connected, ready)) for b in bodies]
    while len(ready) < len(bodies) and not any(t.done() for t in tasks):
        await asyncio.sleep(0.01)
    connected.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def served_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "verifier.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_512_simultaneous_requests_all_get_numbers(served_port: int) -> None:
    samples = [_sample(n) for n in range(CONNECTIONS)]
    bodies = [json.dumps(body).encode() for body, _ in samples]
    began = time.monotonic()
    answers = asyncio.run(_burst(served_port, bodies))
    seconds = time.monotonic() - began
    failed = [a for a in answers if isinstance(a, BaseException) or a[0] != 200]
    assert not failed, f"{len(failed)} of {CONNECTIONS} not answered 200, e.g. {failed[:3]}"
    got = [a[1]["rewards"] for a in answers if not isinstance(a, BaseException)]
    assert all(len(r) == 1 and isinstance(r[0], float) for r in got)
    assert got == [[expected] for _, expected in samples]
    print(f"burst: {len(got)}/{CONNECTIONS} answered with numbers in {seconds:.1f} s")  # with -s
