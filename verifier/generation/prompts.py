"""The chat prompt for each kind of problem: step-by-step reasoning, then the answer in a fixed form."""

from __future__ import annotations

from verifier.schema import CodeProblem, MathProblem

_GSM_SYSTEM = (
    "You are a careful math tutor. Solve the problem step by step, then give the final answer "
    "on its own last line in the form '#### N', where N is only the number."
)
_LATEX_SYSTEM = (
    "You are a careful mathematician. Reason step by step, then put the final answer in \\boxed{}."
)
_CODE_SYSTEM = (
    "You are an expert Python programmer. Think through the task briefly, then give the complete "
    "solution as one Python code block (```python ... ```), including the imports it needs."
)


def build_messages(problem: MathProblem | CodeProblem) -> tuple[tuple[str, str], ...]:
    if isinstance(problem, MathProblem):
        system = _GSM_SYSTEM if problem.answer_format == "gsm" else _LATEX_SYSTEM
        return (("system", system), ("user", problem.question))
    return (("system", _CODE_SYSTEM), ("user", f"Complete this Python code:\n\n```python\n{problem.prompt}```"))
