"""Read cx_core's import graph from the source (runtime imports; ``if TYPE_CHECKING:`` blocks skipped)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "cx_core"


def module_name(path: Path) -> str:
    """Dotted module name of a file under the project root."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, imported names, line) for every runtime import in a file."""
    found: list[tuple[str, list[str], int]] = []

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                found.extend((a.name, [], child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.module, [a.name for a in child.names], child.lineno))
            walk(child)

    walk(ast.parse(path.read_text(encoding="utf-8")))
    return found


def core_files() -> list[Path]:
    """Every Python file of cx_core."""
    return sorted(CORE.rglob("*.py"))


def resolve(target: str, names: list[str], known: set[str]) -> list[str]:
    """The cx_core modules an import statement loads (``from pkg import module`` counts the module)."""
    if not target.startswith("cx_core"):
        return []
    out = [target] if target in known else []
    out += [f"{target}.{n}" for n in names if f"{target}.{n}" in known]
    return out


def module_graph() -> dict[str, set[str]]:
    """cx_core module -> the cx_core modules it imports (package __init__ files are modules too)."""
    files = core_files()
    known = {module_name(p) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        me = module_name(path)
        graph[me] = {m for t, names, _ in imports_of(path) for m in resolve(t, names, known) if m != me}
    return graph


def package_of(module: str) -> str:
    """``cx_core.segments.run`` -> ``segments``; top-level modules are their own package."""
    parts = module.split(".")
    if module == "cx_core.__main__":
        return "__main__"
    return parts[1] if len(parts) > 1 and (CORE / parts[1]).is_dir() else "cx_core"
