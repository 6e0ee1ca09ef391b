"""Shared set-up for the page tests under streamlit.testing.v1.AppTest: a fresh workspace per test,
opening the app or one page, loading a file by path on the Data page."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """Point the app at a fresh workspace in tmp_path (demo data lands there too)."""
    monkeypatch.setenv("CX_DB_PATH", str(tmp_path / "ws.duckdb"))
    monkeypatch.setenv("CX_DEMO_DIR", str(tmp_path / "demo"))
    monkeypatch.setenv("CX_INGEST_UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("CX_DEMO_CUSTOMERS", "600")
    monkeypatch.setenv("CX_INGEST_ALLOWED_DIRS", str(tmp_path))
    clear_streamlit_caches()  # the app caches config + workspace per process: no leak between tests
    yield tmp_path
    clear_streamlit_caches()


def clear_streamlit_caches() -> None:
    """Forget cached resources (config, workspace, model) and data of earlier tests."""
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()


def new_app() -> AppTest:
    """The app, run once (the Overview page), without an exception."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def page_env(tmp_path, monkeypatch) -> None:
    """Point the app at the workspace, demo folder and uploads in tmp_path (default demo size) and
    forget cached config and workspace; the caller may have loaded data there already."""
    for k, v in {
        "CX_DB_PATH": tmp_path / "ws.duckdb",
        "CX_DEMO_DIR": tmp_path / "demo",
        "CX_INGEST_UPLOAD_DIR": tmp_path / "uploads",
        "CX_INGEST_ALLOWED_DIRS": tmp_path,
    }.items():
        monkeypatch.setenv(k, str(v))
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()


def open_page(page: str) -> AppTest:
    """The app switched to ``page`` (e.g. ``"pages/data.py"``), without an exception."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def load_by_path(at: AppTest, path: str, kind: str) -> AppTest:
    """On the Data page: pick ``kind``, give a server path and press Validate."""
    at.selectbox[0].set_value(kind).run()
    at.radio[0].set_value("Path on the server").run()
    at.text_input[0].set_value(path).run()
    assert not at.exception, at.exception
    at.button[0].click().run()  # the form's Validate button
    assert not at.exception, at.exception
    return at
