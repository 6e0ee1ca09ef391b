"""Shared pytest fixtures: a fresh workspace per test, paths to the shared real data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cx_core.config import Config, load_config
from cx_core.store.db import Workspace

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("CX_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared(rel: str) -> Path:
    """Path of a file in ../shared/data, skipping the test when it is absent."""
    p = SHARED_DATA / rel
    if not p.exists():
        pytest.skip(f"shared data not found: {p}")
    return p


@pytest.fixture(autouse=True)
def _no_first_start_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages start without the first-start analysis job (tests that want it switch it on)."""
    monkeypatch.setenv("CX_UI_FIRST_START_ANALYSIS", "false")


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    """A config whose workspace, uploads and demo folder live in tmp_path."""
    return load_config(
        env={},
        db__path=str(tmp_path / "ws.duckdb"),
        ingest__upload_dir=str(tmp_path / "uploads"),
        demo__dir=str(tmp_path / "demo"),
    )


@pytest.fixture
def ws(cfg: Config) -> Workspace:
    """An open, empty workspace with the schema created."""
    w = Workspace.open(cfg.db)
    yield w
    w.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Outside CI, ``slow`` tests are left out unless asked for (``-m slow``, ``-m ''`` or
    ``CX_SLOW_TESTS=1``); CI (``CI=true``) runs everything. Markers are declared in pyproject.toml."""
    if os.environ.get("CI") or os.environ.get("CX_SLOW_TESTS") or config.getoption("markexpr"):
        return
    keep = [i for i in items if "slow" not in i.keywords]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if "slow" in i.keywords])
        items[:] = keep
