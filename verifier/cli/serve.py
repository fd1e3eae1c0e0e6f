"""`verify serve`: the reward server for OpenRLHF (``--remote_rm_url http://HOST:PORT/get_reward``)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from verifier.cli.console import console, fail_input
from verifier.errors import InputError


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
    port: int = typer.Option(5000, "--port", min=0, max=65535),
    bank: Path | None = typer.Option(None, "--bank", help="look labels up as problem ids in this bank"),
    deadline: float = typer.Option(60.0, "--deadline", min=0.1, help="seconds per request (one batch)"),
    max_concurrent: int = typer.Option(4, "--max-concurrent", min=1, help="requests scored at once"),
    partial_credit: bool = typer.Option(False, "--partial-credit", help="code: fraction of tests passed"),
    on_missing: str = typer.Option(
        "zero", "--on-missing", help="undecided rewards: zero (flagged in 'missing'), null, or retry (503)"
    ),
) -> None:
    """Answer POST /get_reward (OpenRLHF's remote reward protocol) and GET /health."""
    from verifier.rewards.server import OnMissing, ServeConfig, make_server

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
    config = ServeConfig(
        deadline_s=deadline,
        partial_credit=partial_credit,
        max_concurrent=max_concurrent,
        on_missing=policy,
        bank=problems,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = make_server(host, port, config)
    except OSError as e:
        fail_input([f"--host/--port: cannot listen on {host}:{port}: {e.strerror or e}"])
    console.print(f"serving rewards on {server.url}/get_reward (health: {server.url}/health)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        server.server_close()
