"""`verify serve`: the reward server for OpenRLHF (``--reward.remote_url http://HOST:PORT/get_reward``)."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import typer

from verifier.cli.console import console, fail_input
from verifier.errors import InputError


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
    port: int = typer.Option(5000, "--port", min=0, max=65535),
    bank: Path | None = typer.Option(None, "--bank", help="look labels up as problem ids in this bank"),
    deadline: float = typer.Option(
        60.0, "--deadline", min=0.1, help="seconds per request, from its arrival (queueing included)"
    ),
    max_concurrent: int = typer.Option(8, "--max-concurrent", min=1, help="requests scored at once"),
    backlog: int = typer.Option(
        2048, "--backlog", min=1, help="listen backlog (connections not yet accepted)"
    ),
    partial_credit: bool = typer.Option(False, "--partial-credit", help="code: fraction of tests passed"),
    on_missing: str = typer.Option(
        "zero",
        "--on-missing",
        help="undecided rewards: zero (0.0, flagged in 'missing'; every trainer), null (clients that take "
        "null; not OpenRLHF), or retry (503; OpenRLHF retries 5 times, then crashes)",
    ),
    end_token: list[str] = typer.Option(
        [],
        "--end-token",
        help="a special token to strip from the end of responses besides the common chat templates' "
        "own (repeatable): the tokenizer's own end or padding token",
    ),
    client_timeout: float = typer.Option(
        180.0,
        "--client-timeout",
        min=1.0,
        help="the client's HTTP timeout (OpenRLHF: 180 s): every answer comes 30 s before it, "
        "math workers' start-up included",
    ),
) -> None:
    """Answer POST /get_reward (OpenRLHF's remote reward protocol) and GET /health."""
    from verifier.rewards.server import CLIENT_MARGIN_S, OnMissing, RewardServer, ServeConfig, check_listen

    try:
        policy = OnMissing(on_missing)
    except ValueError:
        fail_input([f"--on-missing: must be zero, null or retry, got {on_missing!r}"])
    problems = None
    if bank is not None:
        from verifier.banks.loader import load_bank

        try:
            problems = load_bank(bank).by_id()
        except InputError as e:
            fail_input(e.messages)
    if deadline + CLIENT_MARGIN_S > client_timeout:
        fail_input(
            [
                f"--deadline: {deadline:g} s leaves no time before the client's timeout "
                f"(--client-timeout {client_timeout:g} s; at most {client_timeout - CLIENT_MARGIN_S:g} s)"
            ]
        )
    tokens = tuple(t for t in end_token if t.strip())
    if len(tokens) != len(end_token):
        fail_input(["--end-token: must not be empty or only whitespace"])
    config = ServeConfig(
        deadline_s=deadline,
        partial_credit=partial_credit,
        max_concurrent=max_concurrent,
        on_missing=policy,
        bank=problems,
        backlog=backlog,
        end_tokens=tokens,
        client_timeout_s=client_timeout,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        check_listen(host, port)
    except OSError as e:
        fail_input([f"--host/--port: cannot listen on {host}:{port}: {e.strerror or e}"])
    server = RewardServer(host, port, config)
    console.print(f"serving rewards on http://{host}:{port}/get_reward (health: http://{host}:{port}/health)")
    console.print(
        f"every request is answered within {config.worst_case_s:g} s (math workers' start-up included)"
    )
    # uvicorn takes SIGINT/SIGTERM while it runs (stop accepting, finish the requests in flight) and
    # raises the signal again once it has stopped: these handlers then make that a clean exit 0.
    stopped_by: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stopped_by.append(signum))
    server.run()
    console.print(f"stopped ({signal.Signals(stopped_by[0]).name})" if stopped_by else "stopped")
