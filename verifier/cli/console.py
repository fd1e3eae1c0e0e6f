"""One place for the CLI's console output and its error exit (code 2, messages, no traceback)."""

from __future__ import annotations

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
