"""vLLM's offline engine in a process of its own, driven over JSON lines (run by vllm_backend.py).

This file runs under the interpreter of vLLM's own virtualenv (vLLM pins a transformers older than
the project's), so it imports nothing from ``verifier``: the standard library and vLLM only. The
parent starts it with ``python -I`` (so this folder's modules never shadow a library's).

Protocol, one JSON object per line. The first line in is the engine config; the worker answers
``{"ready": {...}}`` or ``{"error": "..."}``. Then each ``{"op": "generate", "prompts": [...]}`` gets
``{"results": [...]}`` (or ``{"error": ...}``) and ``{"op": "close"}`` (or end of input) ends it.
vLLM logs to stdout, so the protocol runs on a private copy of the original stdout and fd 1 is
pointed at stderr (the parent's log file) before vLLM is imported.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from typing import Any


def _watch_parent(parent: int) -> None:
    """Exit when the parent dies mid-batch (stdin's EOF is only seen between batches)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(3)


def _alternatives(position: Any, k: int) -> list[list[Any]]:
    ranked = sorted(position.values(), key=lambda lp: -lp.logprob)[:k]
    return [[lp.decoded_token or "", float(lp.logprob)] for lp in ranked]


def _sample_params(vllm: Any, prompt: dict[str, Any], seed: int) -> Any:
    return vllm.SamplingParams(
        n=1,
        seed=seed,
        max_tokens=prompt["max_tokens"],
        temperature=prompt["temperature"],
        top_p=prompt["top_p"] if prompt["temperature"] > 0 else 1.0,
        logprobs=prompt["logprobs"] or None,
    )


def _generate(llm: Any, vllm: Any, prompts: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """One engine call for the whole batch: a request per sample (its own seed), so a sample is the
    same alone or with its siblings; prefix caching prefills each prompt's shared part once."""
    conversations, params, owner = [], [], []
    for i, prompt in enumerate(prompts):
        for seed in prompt["seeds"]:
            conversations.append(prompt["messages"])
            params.append(_sample_params(vllm, prompt, seed))
            owner.append(i)
    outputs = llm.chat(conversations, sampling_params=params, use_tqdm=False) if conversations else []
    results: list[list[dict[str, Any]]] = [[] for _ in prompts]
    for i, out in zip(owner, outputs, strict=True):
        sample = out.outputs[0]
        k = prompts[i]["logprobs"]
        results[i].append(
            {
                "text": sample.text,
                "tokens": len(sample.token_ids),
                "finish_reason": sample.finish_reason or "stop",
                "prompt_tokens": len(out.prompt_token_ids or ()),
                "top_logprobs": [_alternatives(p, k) for p in sample.logprobs]
                if k and sample.logprobs
                else None,
            }
        )
    return results


def main() -> int:
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(obj: dict[str, Any]) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    config = json.loads(sys.stdin.readline() or "{}")
    t0 = time.perf_counter()
    try:
        import vllm
        from vllm.platforms import current_platform

        cpu = current_platform.is_cpu()
        llm = vllm.LLM(
            model=config["model"],
            dtype=config.get("dtype") or ("float32" if cpu else "auto"),
            tensor_parallel_size=config.get("tensor_parallel_size", 1),
            max_model_len=config.get("max_model_len", 2048),
            gpu_memory_utilization=config.get("gpu_memory_utilization") or (0.3 if cpu else 0.85),
            enforce_eager=cpu,  # compilation on the CPU build falls back to one core
            enable_prefix_caching=True,
            seed=0,
        )
    except Exception as e:  # noqa: BLE001 (any start-up failure goes back to the parent as a message)
        traceback.print_exc()
        send({"error": f"vLLM could not start: {type(e).__name__}: {e}"})
        return 1
    send(
        {
            "ready": {
                "vllm": vllm.__version__,
                "device": "cpu" if cpu else current_platform.device_name,
                "load_seconds": time.perf_counter() - t0,
            }
        }
    )
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("op") == "close":
            break
        try:
            send({"results": _generate(llm, vllm, message["prompts"])})
        except Exception as e:  # noqa: BLE001 (reported to the parent, which raises GenerationError)
            traceback.print_exc()
            send({"error": f"{type(e).__name__}: {e}"})
    return 0


if __name__ == "__main__":  # vLLM's engine spawns processes that re-import the main module
    sys.exit(main())
