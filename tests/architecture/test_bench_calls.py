"""Benchmarks call cx_core the way cx_core is today.

The benchmarks are run by hand, not in CI, so an API change can break one silently
(``bench/segment.py --demo`` kept handing ``make_encoder`` to ``load_inputs`` as a factory after
it gained a required ``model`` argument).  This test reads every ``bench/*.py``, resolves each
name imported from ``cx_core`` and checks every direct call made through it: the attribute
exists and the arguments bind to the current signature.  Nothing is run.  Callables passed on
as values (like that factory) are out of its reach.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = sorted((ROOT / "bench").glob("*.py"))


def _imported(tree: ast.AST) -> dict[str, Any]:
    """Local name -> object, for every ``from cx_core... import name [as alias]`` in the file."""
    out: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cx_core"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                obj = getattr(module, alias.name, None)
                if obj is None:
                    obj = importlib.import_module(f"{node.module}.{alias.name}")
                out[alias.asname or alias.name] = obj
    return out


def _target(func: ast.expr, names: dict[str, Any]) -> tuple[str, Any] | None:
    """(dotted text, object) of a call's target when it starts at an imported cx_core name."""
    parts: list[str] = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name) or func.id not in names:
        return None
    obj, text = names[func.id], func.id
    for attr in reversed(parts):
        if not (inspect.isclass(obj) or inspect.ismodule(obj)):
            return None  # an attribute of an instance or function result: not checked
        assert hasattr(obj, attr), f"{text}.{attr} does not exist"
        obj, text = getattr(obj, attr), f"{text}.{attr}"
    return text, obj


def _binds(obj: Any, call: ast.Call) -> None:
    """Bind the call's positional count and keyword names to ``obj``'s signature."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return  # *args / **kwargs at the call: not checkable statically
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return
    sig.bind(*range(len(call.args)), **{k.arg: None for k in call.keywords})


def _calls(path: Path) -> list[tuple[int, str, Any, ast.Call]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = _imported(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            hit = _target(node.func, names)
            if hit is not None:
                out.append((node.lineno, hit[0], hit[1], node))
    return out


@pytest.mark.parametrize("path", BENCHES, ids=[p.name for p in BENCHES])
def test_every_call_into_cx_core_binds_to_the_current_signature(path):
    bad = []
    for line, text, obj, call in _calls(path):
        try:
            _binds(obj, call)
        except TypeError as exc:
            bad.append(f"{path.name}:{line} {text}(...): {exc}")
    assert not bad, "\n".join(bad)


def test_the_check_catches_a_call_that_no_longer_binds(tmp_path):
    src = tmp_path / "old_bench.py"
    src.write_text(
        "from cx_core.text.embeddings import make_encoder\ndef prep():\n    return make_encoder()\n",
        encoding="utf-8",
    )
    ((line, text, obj, call),) = _calls(src)
    with pytest.raises(TypeError, match="model"):
        _binds(obj, call)
