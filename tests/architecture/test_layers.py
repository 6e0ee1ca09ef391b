"""The house plan as tests: layers only point down, no import circles, private stays private,
SQL lives in the store and per-feature store modules, cx_core never imports streamlit."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from imports import CORE, ROOT, core_files, imports_of, module_graph, module_name, package_of  # noqa: E402

#: lower number = lower layer; an import may point to its own layer or below, never up
LAYERS: dict[str, int] = {
    "cx_core": 0,  # config, safe, progress (top-level modules)
    "store": 1,
    "auth": 2,
    "ingest": 3,
    "text": 4,
    "cluster": 4,
    "customers": 4,
    "plots": 4,
    "reviews": 5,
    "explain": 5,
    "segments": 5,
    "themes": 5,
    "recommend": 5,
    "insight": 6,
    "pipeline": 7,
    "scale": 7.5,  # Ray scale-out: imports pipeline and features; only cli imports it
    "cli": 8,
    "__main__": 8,
}
#: packages that must import no feature package at all
ONLY = {"store": {"cx_core"}, "plots": {"cx_core", "store"}, "cluster": {"cx_core", "ingest"}}


def test_every_package_has_a_layer():
    packages = {package_of(m) for m in module_graph()}
    assert packages <= set(LAYERS), sorted(packages - set(LAYERS))


def test_imports_only_point_down():
    wrong = [
        (m, d)
        for m, deps in module_graph().items()
        for d in deps
        if LAYERS[package_of(d)] > LAYERS[package_of(m)]
    ]
    assert not wrong, wrong


def test_store_plots_and_cluster_import_no_feature_package():
    wrong = [
        (m, d)
        for m, deps in module_graph().items()
        for d in deps
        if package_of(m) in ONLY and package_of(d) not in ONLY[package_of(m)] | {package_of(m)}
    ]
    assert not wrong, wrong


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_import_circles():
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in module_graph().items()}
    assert _cycle(graph) is None, _cycle(graph)


def test_no_package_import_circles():
    pk: dict[str, set[str]] = {}
    for m, deps in module_graph().items():
        pk.setdefault(package_of(m), set()).update(
            package_of(d) for d in deps if package_of(d) != package_of(m)
        )
    assert _cycle(pk) is None, _cycle(pk)


def test_no_module_imports_another_modules_private_names():
    wrong = []
    for path in [
        *core_files(),
        *sorted((ROOT / "pages").glob("*.py")),
        *sorted((ROOT / "bench").glob("*.py")),
    ]:
        for target, names, line in imports_of(path):
            if target.startswith("cx_core") and any(
                n.startswith("_") and not n.startswith("__") for n in names
            ):
                wrong.append(f"{path.relative_to(ROOT)}:{line} {target} {names}")
    assert not wrong, wrong


def test_cx_core_never_imports_streamlit():
    wrong = [
        module_name(p) for p in core_files() for t, _, _ in imports_of(p) if t.split(".")[0] == "streamlit"
    ]
    assert not wrong, wrong


SQL = re.compile(
    r"\b(SELECT\s+[\w*(]|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|CREATE\s+(TABLE|VIEW|INDEX))",
    re.IGNORECASE,
)


def test_no_sql_in_pages_cli_or_pipeline_stages():
    """Pages, the CLI and the stage objects call feature functions; SQL stays in the feature packages
    and the store (every query goes through :class:`cx_core.store.db.Workspace`)."""
    places = [
        *sorted((ROOT / "pages").glob("*.py")),
        *sorted((CORE / "cli").glob("*.py")),
        *sorted((CORE / "pipeline").rglob("*.py")),
        *sorted((CORE / "plots").glob("*.py")),
        *sorted((CORE / "cluster").glob("*.py")),
        ROOT / "app.py",
    ]
    wrong = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in places
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if SQL.search(line)
    ]
    assert not wrong, wrong


def test_only_the_store_opens_duckdb():
    wrong = [
        module_name(p)
        for p in core_files()
        for t, _, _ in imports_of(p)
        if t.split(".")[0] == "duckdb" and package_of(module_name(p)) not in ("store", "ingest")
    ]
    assert not wrong, wrong


RUNS_SQL = re.compile(r"\b(FROM|JOIN|INTO|UPDATE)\s+runs\b", re.IGNORECASE)


def test_only_store_runs_reads_the_runs_table():
    """One run API: ``cx_core/store/runs.py`` is the only code with SQL on the ``runs`` table."""
    owner = CORE / "store" / "runs.py"
    places = [*core_files(), *sorted((ROOT / "pages").glob("*.py")), ROOT / "app.py"]
    wrong = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in places
        if p != owner
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if RUNS_SQL.search(line)
    ]
    assert not wrong, wrong
