"""Every page runs under streamlit.testing.v1.AppTest against a fresh workspace."""

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
    _clear_streamlit_caches()  # the app caches config + workspace per process: no leak between tests
    yield tmp_path
    _clear_streamlit_caches()


def _clear_streamlit_caches() -> None:
    """Forget cached resources (config, workspace, model) and data of earlier tests."""
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()


def new_app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def test_overview_shows_demo_kpis(app_env):
    at = new_app()
    labels = {m.label: m.value for m in at.metric}
    assert int(labels["Customers"].replace(",", "")) == 600
    assert int(labels["Reviews"].replace(",", "")) > 0
    assert at.title[0].value == "Overview"


def test_data_page_browse_and_mask(app_env):
    at = new_app()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    assert {m.label for m in at.metric} >= {"Customers", "Order lines", "Reviews"}
    customers = at.dataframe[-3].value
    assert customers["email"].str.contains("•••").all()
    at.toggle(key="data_mask").set_value(True).run()
    assert not at.dataframe[-3].value["email"].str.contains("•••").any()


def _load_by_path(at: AppTest, path: str, kind: str) -> AppTest:
    at.selectbox[0].set_value(kind).run()
    at.radio[0].set_value("Path on the server").run()
    at.text_input[0].set_value(path).run()
    assert not at.exception, at.exception
    at.button[0].click().run()  # the form's Validate button
    assert not at.exception, at.exception
    return at


def test_data_page_validate_and_load_hostile_file(app_env):
    f = app_env / "hostile.csv"
    f.write_text(f'review_text,"{XSS}",rating\n"{XSS} and ""; DROP TABLE orders; --",x,5\n'
                 "fine product,y,4\n")
    at = new_app()
    at.switch_page("pages/data.py").run()
    at = _load_by_path(at, str(f), "reviews")
    report = " ".join(s.value for s in at.success) + " ".join(w.value for w in at.warning)
    assert "2 rows would be loaded" in report
    load = next(b for b in at.button if b.label.startswith("Load 2 rows"))
    load.click().run()
    assert not at.exception, at.exception
    assert any("Loaded 2 rows" in s.value for s in at.success)
    # user strings never reach Markdown unescaped (so never become HTML)
    for el in [*at.markdown, *at.caption, *at.success, *at.warning, *at.error, *at.info]:
        assert "<img" not in el.value, el.value


def test_data_page_bad_file_shows_message(app_env):
    f = app_env / "empty.csv"
    f.write_text("")
    at = new_app()
    at.switch_page("pages/data.py").run()
    at.selectbox[0].set_value("orders").run()
    at.radio[0].set_value("Path on the server").run()
    at.text_input[0].set_value(str(f)).run()
    assert not at.exception
    assert any("empty" in e.value for e in at.error)


def test_data_page_unmapped_required_field(app_env):
    f = app_env / "x.csv"
    f.write_text("foo,bar\n1,2\n")
    at = new_app()
    at.switch_page("pages/data.py").run()
    at = _load_by_path(at, str(f), "orders")
    assert any("Customer id" in e.value for e in at.error)


def test_data_page_refuses_paths_outside_allowed_dirs_with_one_message(app_env):
    secret = app_env.parent / f"{app_env.name}-outside.env"
    secret.write_text("DB_PASSWORD=hunter2\n")
    (app_env / "innocent.csv").symlink_to(secret)
    attempts = [str(secret), "/etc/passwd", "/etc/shadow", "innocent.csv", "../" + secret.name,
                str(app_env / "missing.csv"), str(app_env), "/nonexistent/x.csv"]
    at = new_app()
    at.switch_page("pages/data.py").run()
    at.radio[0].set_value("Path on the server").run()
    messages = set()
    for attempt in attempts:
        at.text_input[0].set_value(attempt).run()
        assert not at.exception, at.exception
        assert not at.dataframe or all("hunter2" not in str(d.value) for d in at.dataframe)
        errors = [e.value for e in at.error]
        assert len(errors) == 1, (attempt, errors)
        messages.add(errors[0])
    assert len(messages) == 1 and "ingest.allowed_dirs" in messages.pop().replace("\\", "")


def test_data_page_offers_uploads_only_without_allowed_dirs(app_env, monkeypatch):
    monkeypatch.setenv("CX_INGEST_ALLOWED_DIRS", "")
    at = new_app()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    assert list(at.radio[0].options) == ["Upload a file"]
    assert not at.text_input


def test_customers_page_compute_and_show_profiles(app_env):
    at = new_app()
    at.switch_page("pages/customers.py").run()
    assert not at.exception, at.exception
    assert any("No profiles yet" in i.value for i in at.info)
    at.button[0].click().run()  # the form's "Compute profiles"
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Customers profiled"].replace(",", "")) > 300
    assert float(metrics["Predicted CLV (total)"].replace(",", "")) > 0
    table = at.dataframe[0].value
    assert table["email"].dropna().str.contains("•••").all()
    assert "Method:" in at.caption[0].value
