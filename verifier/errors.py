"""Errors that reach the user as clear messages (exit code 2), never as tracebacks."""

from __future__ import annotations


class InputError(Exception):
    """Invalid input: each message names ``file:line: field: what is wrong``."""

    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("\n".join(messages))
