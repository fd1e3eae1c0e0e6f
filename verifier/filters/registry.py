"""From ``--filters arithmetic,dedup,...`` and the stage options to ready stages, and a run filtered.

One place that knows every stage's name and options, used by ``verify filter RUN_DIR`` and by the
main job's ``--filters`` (which runs the same step on its run directory after the pipeline).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.banks.loader import Bank, load_bank
from verifier.errors import InputError
from verifier.filters.anchor import DEFAULT_BAND, AnchorStage, bank_anchors, file_anchors
from verifier.filters.arithmetic import ArithmeticStage
from verifier.filters.base import Stage
from verifier.filters.critic import DEFAULT_THRESHOLD, CriticStage, make_critics
from verifier.filters.dedup import DedupStage
from verifier.filters.perplexity import DEFAULT_BAND as PERPLEXITY_BAND
from verifier.filters.perplexity import DEFAULT_MARGIN, PerplexityStage, reference_pairs
from verifier.filters.runner import FilterResult, run_filters
from verifier.generation.embedded import EMBEDDED_NAME
from verifier.generation.registry import BackendSettings

STAGES = ("arithmetic", "dedup", "anchor", "critic", "perplexity")


@dataclass(frozen=True)
class FilterOptions:
    keep_per_problem: int | None = None
    near_threshold: float = 0.8
    anchor_file: Path | None = None
    band: tuple[float, float] = DEFAULT_BAND
    # float32: the critic's yes/no probabilities are its output; bfloat16 rounds them visibly
    critic: BackendSettings = field(default_factory=lambda: BackendSettings(dtype="float32"))
    critic_models: tuple[str, ...] = ()
    critics: int = 1
    critic_threshold: float = DEFAULT_THRESHOLD
    perplexity_model: str | None = None  # None: the run's generator model
    perplexity_band: tuple[float, float] = PERPLEXITY_BAND
    perplexity_margin: float = DEFAULT_MARGIN
    perplexity_references: int = 200


def parse_filters(spec: str) -> list[str]:
    """``"arithmetic,dedup"`` -> names, in the order given; InputError for an unknown or repeated name."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    errors = [
        f"--filters: unknown stage {n!r} (choose from {', '.join(STAGES)})" for n in names if n not in STAGES
    ]
    if not names:
        errors.append(f"--filters: name at least one stage ({', '.join(STAGES)})")
    if len(set(names)) != len(names):
        errors.append(f"--filters: a stage is named twice in {spec!r}")
    if errors:
        raise InputError(errors)
    return names


def parse_band(option: str, text: str) -> tuple[float, float]:
    """``"0.65,0.92"`` -> (0.65, 0.92); InputError naming the option otherwise."""
    parts = text.split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise InputError([f"{option}: expected LOW,HIGH (two numbers), got {text!r}"]) from None
    return lo, hi


def run_model(run_dir: Path) -> str | None:
    """The run's generator model as --model takes it (None = the embedded model)."""
    info = read_run_info(run_dir)
    model = info.get("model")
    if model in (None, EMBEDDED_NAME):
        return None
    if not isinstance(model, str) or not Path(model).exists():
        raise InputError(
            [f"{run_dir / 'run.json'}:1: model: {model!r} is not a local model; pass --perplexity-model PATH"]
        )
    return model


def read_run_info(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError([f"{path}:1: <json>: not a run description ({e})"]) from None
    return info if isinstance(info, dict) else {}


def build_stages(names: list[str], options: FilterOptions, bank: Bank | None, run_dir: Path) -> list[Stage]:
    """Ready stages (models load on first use). InputError for settings a stage refuses."""
    stages: list[Stage] = []
    try:
        for name in names:
            stages.append(_build(name, options, bank, run_dir))
    except ValueError as e:
        raise InputError([str(e)]) from None
    return stages


def _build(name: str, o: FilterOptions, bank: Bank | None, run_dir: Path) -> Stage:
    problems = bank.problems if bank is not None else ()
    if name == "arithmetic":
        return ArithmeticStage()
    if name == "dedup":
        return DedupStage(keep_per_problem=o.keep_per_problem, threshold=o.near_threshold)
    if name == "anchor":
        if o.anchor_file is not None:
            return AnchorStage(file_anchors(o.anchor_file), band=o.band, source=str(o.anchor_file))
        return AnchorStage(bank_anchors(problems), band=o.band)
    if name == "critic":
        return CriticStage(make_critics(o.critics, o.critic, o.critic_models), threshold=o.critic_threshold)
    if name == "perplexity":
        model = o.perplexity_model if o.perplexity_model is not None else run_model(run_dir)
        return PerplexityStage(
            model,
            reference_pairs(problems, o.perplexity_references),
            band=o.perplexity_band,
            margin=o.perplexity_margin,
        )
    raise InputError([f"--filters: unknown stage {name!r}"])


def filter_run(
    run_dir: Path,
    names: list[str],
    options: FilterOptions,
    *,
    bank_path: Path | None = None,
    on_progress: Callable[[str, int, int], None] = lambda stage, done, total: None,
) -> FilterResult:
    """Filter a finished run: its bank from run.json unless ``bank_path`` is given."""
    if not (run_dir / "chains.jsonl").exists():
        raise InputError([f"{run_dir}:0: RUN_DIR: no chains.jsonl here: not a run directory"])
    info = read_run_info(run_dir)
    path = bank_path or (Path(info["bank"]) if isinstance(info.get("bank"), str) else None)
    if path is None:
        raise InputError([f"{run_dir / 'run.json'}:1: bank: the run names no bank; pass --bank"])
    if not path.exists():
        raise InputError([f"{path}:0: bank: not found (the run's bank; pass --bank to point at it)"])
    bank = load_bank(path)
    stages = build_stages(names, options, bank, run_dir)
    sft_format = info.get("sft_format", "messages")
    return run_filters(
        run_dir,
        stages,
        bank=bank,
        bank_label=str(path),
        sft_format=sft_format if isinstance(sft_format, str) else "messages",
        on_progress=on_progress,
    )
