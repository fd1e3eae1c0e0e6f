"""A pool worker: ``python -m verifier.math.worker MEMORY_MB``.

Reads one JSON task per line on stdin, writes one JSON result per line on the original stdout (the
Python-level ``sys.stdout`` is sent to stderr so a stray print cannot corrupt the protocol). The
address space is capped with ``RLIMIT_AS`` before SymPy is imported; the parent enforces deadlines
by killing this process, so there is no signal handling here.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from typing import Any


def _cap_memory(memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _exit_with_parent() -> None:
    """A worker must not outlive its pool's process, even one killed with SIGKILL mid-task (stdin
    EOF only ends an idle worker): a daemon thread checks the parent every second."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _answer(task: dict[str, Any]) -> dict[str, Any]:
    from verifier.math.symbolic import compare_full

    if task.get("op") == "sleep":  # slow on purpose, using no CPU: tests of the wall-clock cap
        time.sleep(float(task.get("seconds", 0)))
        return {"status": "correct", "rule": "sleep", "reason": "slept"}
    if task.get("op") == "spin":  # slow on purpose, using a CPU: tests of the deadline
        end = time.monotonic() + float(task.get("seconds", 0))
        while time.monotonic() < end:
            pass
        return {"status": "correct", "rule": "spin", "reason": "spun"}
    if task.get("op") != "compare":
        return {"status": "error", "rule": None, "reason": f"unknown op {task.get('op')!r}"}
    decision = compare_full(str(task["gold"]), str(task["pred"]))
    return {"status": decision.status.value, "rule": decision.rule, "reason": decision.reason}


def main() -> None:
    memory_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    _exit_with_parent()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _cap_memory(memory_mb)
    sys.setrecursionlimit(3000)
    from verifier.math.symbolic import warm_up

    warm_up()  # before "ready": a task's deadline then measures its own work only

    out.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        fatal = False
        try:
            task = json.loads(line)
            result = _answer(task)
        except MemoryError:
            result, fatal = {"status": "error", "rule": None, "reason": "worker hit its memory limit"}, True
        except RecursionError:
            result = {
                "status": "unparseable",
                "rule": None,
                "reason": "expression nested too deeply (recursion limit)",
            }
        except Exception as e:  # reported as an ERROR verdict with its cause, never as a wrong answer
            result = {
                "status": "error",
                "rule": None,
                "reason": f"worker: {type(e).__name__}: {str(e)[:300]}",
            }
        out.write(json.dumps(result) + "\n")
        if fatal:
            break  # the heap may be in a bad state: let the pool start a fresh worker


if __name__ == "__main__":
    main()
