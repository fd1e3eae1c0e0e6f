"""The package's top-level API: keyword-only checkers, enums with reasons, lazy code imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

import verifier


def test_check_math_is_keyword_only_and_returns_a_verdict() -> None:
    with pytest.raises(TypeError):
        verifier.check_math("18", "#### 18")  # type: ignore[misc]
    v = verifier.check_math(gold="18", pred="9 * 2 = 18\n#### 18")
    assert v.status is verifier.MathStatus.CORRECT and v.correct and v.extracted == "18" and v.reason
    w = verifier.check_math(gold="18", pred="#### 19")
    assert w.status is verifier.MathStatus.WRONG and not w.correct


def test_importing_the_package_does_not_import_docker() -> None:
    code = "import sys, verifier; assert 'docker' not in sys.modules; verifier.check_code; assert 'docker' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        verifier.no_such_thing  # noqa: B018
