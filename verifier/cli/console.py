"""One place for the CLI's console output and its error exit (code 2, messages, no traceback)."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import typer
from rich.console import Console

console = Console(stderr=False, soft_wrap=True)  # long paths stay on one line in CI logs
err_console = Console(stderr=True, soft_wrap=True)

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


def fail_input(messages: list[str]) -> NoReturn:
    for m in messages:
        err_console.print(m, markup=False, highlight=False)
    raise typer.Exit(EXIT_INPUT)


def exit_now(code: int) -> NoReturn:
    """Leave at once, without the interpreter's shutdown. After Ctrl-C the generate thread may still be
    inside a native engine call (a torch forward); finalising the interpreter under it aborts the
    process ("terminate called without an active exception", SIGABRT). By the time this is called
    the run has written what it finished and closed its pools, so nothing is lost by skipping it."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
