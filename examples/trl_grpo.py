"""A few GRPO steps with TRL on CPU: the embedded SmolLM2-135M, a handful of GSM problems, our reward.

    HF_HUB_OFFLINE=1 .venv/bin/python examples/trl_grpo.py --steps 2 --out /tmp/grpo

The reward is ``verifier.rewards.for_trl(answer_column="answer")``: 1.0 when the completion's
anchored final answer (``#### N``) equals the gold answer, 0.0 when it does not, None (left out of
the group statistics by TRL) when the checker could not decide. The point is the plumbing, not
learning: a 135M model on CPU rarely earns a reward in a few steps.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download: the model is embedded

REPO = Path(__file__).resolve().parent.parent
SYSTEM = "Solve the problem step by step, then give the final answer on its own last line as '#### N'."


def gsm_dataset(bank: Path, limit: int) -> list[dict[str, Any]]:
    rows = []
    for line in bank.read_text(encoding="utf-8").splitlines()[:limit]:
        problem = json.loads(line)
        prompt = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": problem["question"]}]
        rows.append({"prompt": prompt, "answer": problem["answer"], "problem_id": problem["id"]})
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bank", type=Path, default=REPO / "problem_banks" / "gsm-style.jsonl")
    parser.add_argument("--problems", type=int, default=4)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--generations", type=int, default=4, help="completions per prompt (the GRPO group)")
    parser.add_argument("--max-completion-length", type=int, default=48)
    parser.add_argument("--out", type=Path, default=Path("runs") / "trl_grpo")
    parser.add_argument("--async-reward", action="store_true", help="use the async variant of the reward")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the result here")
    args = parser.parse_args(argv)

    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from verifier.generation.transformers_backend import resolve_model
    from verifier.rewards import STATS, for_trl, for_trl_async

    torch.manual_seed(0)
    model_dir, _name = resolve_model(None)  # a plain HF copy of the embedded GGUF, made once
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    reward = (for_trl_async if args.async_reward else for_trl)(answer_column="answer")

    config = GRPOConfig(
        output_dir=str(args.out),
        use_cpu=True,
        max_steps=args.steps,
        per_device_train_batch_size=args.generations,
        num_generations=args.generations,
        max_completion_length=args.max_completion_length,
        learning_rate=1e-6,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=0,
        bf16=False,
        dataloader_num_workers=0,
        temperature=1.0,
        gradient_checkpointing=False,  # nothing to save on a 135M model; it only slows CPU steps
    )
    trainer = GRPOTrainer(
        model=model,
        processing_class=tokenizer,
        reward_funcs=reward,
        args=config,
        train_dataset=Dataset.from_list(gsm_dataset(args.bank, args.problems)),
    )
    trainer.train()
    logs = [entry for entry in trainer.state.log_history if "loss" in entry or "reward" in entry]
    result = {"steps": trainer.state.global_step, "logs": logs, "reward_stats": STATS.snapshot()}
    print(json.dumps(result, indent=2, default=str))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, default=str), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
