"""`--prompt FILE`: the user's own prompt per problem kind, in YAML.

    gsm:                      # math problems answered as '#### N'   (also: latex, code; or math for both)
      system: You are a careful math tutor. ...
      examples:               # few-shot turns, in order (optional)
        - user: Lily has 5 red balloons ...
          assistant: "... #### 9"
      user: "{question}"      # the problem's turn; placeholders: math {question}, code {prompt} {entry_point}

A kind the file leaves out keeps the built-in prompt (verifier/generation/prompts.py). Every error
names ``file:line: field``; nothing is half-loaded.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import yaml

from verifier.errors import InputError
from verifier.generation.prompts import Messages, build_messages
from verifier.schema import CodeProblem, MathProblem

KINDS = ("gsm", "latex", "code", "math")  # math: gsm and latex alike, unless those are given too
PLACEHOLDERS = {
    "gsm": {"question"},
    "latex": {"question"},
    "math": {"question"},
    "code": {"prompt", "entry_point"},
}
_FIELDS = ("system", "examples", "user")


@dataclass(frozen=True)
class PromptTemplate:
    user: str
    system: str | None = None
    examples: tuple[tuple[str, str], ...] = ()  # (user, assistant) turns

    def render(self, values: dict[str, str]) -> Messages:
        turns: list[tuple[str, str]] = [("system", self.system)] if self.system else []
        for user, assistant in self.examples:
            turns += [("user", user), ("assistant", assistant)]
        return (*turns, ("user", self.user.format_map(values)))


def _kind(problem: MathProblem | CodeProblem) -> str:
    return problem.answer_format if isinstance(problem, MathProblem) else "code"


def _values(problem: MathProblem | CodeProblem) -> dict[str, str]:
    if isinstance(problem, MathProblem):
        return {"question": problem.question}
    entry = getattr(problem.tests, "entry_point", "")
    return {"prompt": problem.prompt, "entry_point": entry}


@dataclass(frozen=True)
class PromptSet:
    templates: dict[str, PromptTemplate]  # by kind: gsm, latex, code

    def build(self, problem: MathProblem | CodeProblem) -> Messages:
        template = self.templates.get(_kind(problem))
        return build_messages(problem) if template is None else template.render(_values(problem))


DEFAULT_PROMPTS = PromptSet({})


class _Errors:
    def __init__(self, path: Path):
        self.path = path
        self.messages: list[str] = []

    def add(self, node: yaml.Node, field: str, why: str) -> None:
        self.messages.append(f"{self.path}:{node.start_mark.line + 1}: {field}: {why}")


def _text(node: yaml.Node, field: str, errors: _Errors) -> str | None:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str" and node.value.strip():
        return str(node.value)
    errors.add(node, field, "must be a non-empty string")
    return None


def _mapping(
    node: yaml.Node, field: str, allowed: tuple[str, ...], errors: _Errors
) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """name -> (key node, value node); unknown and repeated keys are errors."""
    if not isinstance(node, yaml.MappingNode):
        errors.add(node, field, f"must be a mapping with keys {', '.join(allowed)}")
        return {}
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else str(key)
        where = f"{field}.{name}" if field else name
        if name not in allowed:
            errors.add(key, where, f"unknown key (expected one of {', '.join(allowed)})")
        elif name in out:
            errors.add(key, where, "given twice")
        else:
            out[name] = (key, value)
    return out


def _check_placeholders(node: yaml.Node, field: str, template: str, kind: str, errors: _Errors) -> None:
    allowed = PLACEHOLDERS[kind]
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as e:
        errors.add(node, field, f"not a valid template ({e}); write literal braces as {{{{ and }}}}")
        return
    for name in sorted(names - allowed):
        shown = "{" + name + "}" if name else "{}"
        errors.add(
            node,
            field,
            f"unknown placeholder {shown} (use {', '.join('{' + a + '}' for a in sorted(allowed))})",
        )


def _template(kind: str, key: yaml.Node, node: yaml.Node, errors: _Errors) -> PromptTemplate | None:
    fields = {name: value for name, (_, value) in _mapping(node, kind, _FIELDS, errors).items()}
    before = len(errors.messages)
    if "user" not in fields:
        errors.add(key, f"{kind}.user", "missing field (the problem's turn, e.g. '{question}')")
        user = None
    else:
        user = _text(fields["user"], f"{kind}.user", errors)
        if user is not None:
            _check_placeholders(fields["user"], f"{kind}.user", user, kind, errors)
    system = _text(fields["system"], f"{kind}.system", errors) if "system" in fields else None
    examples: list[tuple[str, str]] = []
    if "examples" in fields:
        seq = fields["examples"]
        if not isinstance(seq, yaml.SequenceNode):
            errors.add(seq, f"{kind}.examples", "must be a list of {user, assistant} turns")
        else:
            for i, item in enumerate(seq.value):
                where = f"{kind}.examples[{i}]"
                turn = {n: v for n, (_, v) in _mapping(item, where, ("user", "assistant"), errors).items()}
                texts = []
                for role in ("user", "assistant"):
                    if role not in turn:
                        errors.add(item, f"{where}.{role}", "missing field")
                    else:
                        texts.append(_text(turn[role], f"{where}.{role}", errors))
                if len(texts) == 2 and texts[0] is not None and texts[1] is not None:
                    examples.append((texts[0], texts[1]))
    if len(errors.messages) > before or user is None:
        return None
    return PromptTemplate(user=user, system=system, examples=tuple(examples))


def load_prompts(path: Path | None) -> PromptSet:
    """The prompts of ``--prompt FILE`` (the built-in ones for None). Raises InputError."""
    if path is None:
        return DEFAULT_PROMPTS
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError([f"{path}:1: <encoding>: not UTF-8"]) from None
    except OSError as e:
        raise InputError([f"{path}:0: --prompt: cannot read: {e.strerror or e}"]) from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise InputError([f"{path}:{line}: <yaml>: {getattr(e, 'problem', None) or e}"]) from None
    errors = _Errors(path)
    if root is None:
        raise InputError([f"{path}:1: <file>: empty; give at least one of {', '.join(KINDS)}"])
    kinds = _mapping(root, "", KINDS, errors)
    templates: dict[str, PromptTemplate] = {}
    for kind, (key, node) in kinds.items():
        template = _template(kind, key, node, errors)
        if template is not None:
            templates[kind] = template
    if errors.messages:
        raise InputError(errors.messages)
    if not kinds:
        raise InputError([f"{path}:1: <file>: no prompt; give at least one of {', '.join(KINDS)}"])
    shared = templates.pop("math", None)
    if shared is not None:
        for kind in ("gsm", "latex"):
            templates.setdefault(kind, shared)
    return PromptSet(templates)
