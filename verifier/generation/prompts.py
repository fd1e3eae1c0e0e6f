"""The chat prompt for each kind of problem: step-by-step reasoning, then the answer in a fixed form.

Math prompts carry one short worked example (our own, not from any bank): a 135M model copies the
answer form from an example far more reliably than from an instruction. Measured on the demo bank,
15 problems x 10 samples: the '#### N' line went from ~40% of samples to 96%, and correct samples
from 5% to 21%.
"""

from __future__ import annotations

from verifier.schema import CodeProblem, MathProblem

Messages = tuple[tuple[str, str], ...]

_GSM_SYSTEM = (
    "You are a careful math tutor. Solve the problem step by step, then give the final answer "
    "on its own last line in the form '#### N', where N is only the number."
)
_GSM_EXAMPLE = (
    ("user", "Lily has 5 red balloons and 4 blue balloons. How many balloons does she have?"),
    (
        "assistant",
        "Lily has 5 red balloons and 4 blue balloons.\nIn total she has 5 + 4 = 9 balloons.\n#### 9",
    ),
)
_LATEX_SYSTEM = (
    "You are a careful mathematician. Reason step by step, then put the final answer in \\boxed{}."
)
_LATEX_EXAMPLE = (
    ("user", "What is the value of $\\frac{1}{2} + \\frac{1}{3}$?"),
    (
        "assistant",
        "The common denominator is 6, so $\\frac{3}{6} + \\frac{2}{6} = \\frac{5}{6}$.\n\n\\boxed{\\frac{5}{6}}",
    ),
)
_CODE_SYSTEM = (
    "You are an expert Python programmer. Think through the task briefly, then give the complete "
    "solution as one Python code block (```python ... ```), including the imports it needs."
)


def build_messages(problem: MathProblem | CodeProblem) -> Messages:
    if isinstance(problem, MathProblem):
        if problem.answer_format == "gsm":
            return (("system", _GSM_SYSTEM), *_GSM_EXAMPLE, ("user", problem.question))
        return (("system", _LATEX_SYSTEM), *_LATEX_EXAMPLE, ("user", problem.question))
    return (
        ("system", _CODE_SYSTEM),
        ("user", f"Complete this Python code:\n\n```python\n{problem.prompt}```"),
    )
