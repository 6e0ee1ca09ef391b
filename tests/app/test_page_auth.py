"""Login, roles and the access gate under AppTest (the browser versions are in tests/e2e/test_security.py)."""

from __future__ import annotations

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from cx_core.auth.users import add_user
from cx_core.config import load_config
from cx_core.store.audit import audit_log
from cx_core.store.db import Workspace
from tests.conftest import ROOT

PW = {"vic": "viewer password 1", "ana": "analyst password 1", "ada": "admin password 12"}
ROLE = {"vic": "viewer", "ana": "analyst", "ada": "admin"}


def _clear() -> None:
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A fresh workspace (demo store of 300 customers) and an empty users file location."""
    for k, v in {
        "CX_DB_PATH": tmp_path / "ws.duckdb",
        "CX_DEMO_DIR": tmp_path / "demo",
        "CX_INGEST_UPLOAD_DIR": tmp_path / "uploads",
        "CX_DEMO_CUSTOMERS": "300",
        "CX_AUTH_USERS_FILE": tmp_path / "users.json",
    }.items():
        monkeypatch.setenv(k, str(v))
    _clear()
    yield tmp_path
    _clear()


@pytest.fixture
def team(env):
    for name, role in ROLE.items():
        add_user(env / "users.json", name, PW[name], role)
    return env


def _app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def _sign_in(at: AppTest, name: str, password: str | None = None) -> AppTest:
    at.text_input(key="cx_login_name").input(name)
    at.text_input(key="cx_login_password").input(PW.get(name, "x") if password is None else password)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    assert not at.exception, at.exception
    return at


def _audit(env) -> "list[tuple]":
    _clear()  # the app's cached workspace holds the DuckDB file
    ws = Workspace.open(load_config().db)
    try:
        log = audit_log(ws)
    finally:
        ws.close()
    return list(zip(log["actor"], log["role"], log["action"], log["detail"]))


def test_remote_without_login_serves_nothing(env, monkeypatch):
    monkeypatch.setenv("CX_AUTH_ASSUME_REMOTE", "true")
    at = _app()
    assert at.title[0].value == "Login is not set up"
    assert "python -m cx_core users add" in at.markdown[0].value
    assert not at.dataframe and not at.metric and not at.text_input
    assert not (env / "ws.duckdb").exists()  # not even the workspace was opened


def test_login_required_with_users_and_failures_are_audited(team):
    at = _app()
    assert at.title[0].value == "Sign in to CX Insight" and not at.metric
    _sign_in(at, "ana", "wrong password!")
    assert at.error[0].value == "Wrong user name or password."
    _sign_in(at, "mallory", "wrong password!")
    assert at.error[0].value == "Wrong user name or password."  # the same words for unknown names
    _sign_in(at, "ana")
    assert at.title[0].value == "Overview" and at.metric
    assert any("Signed in as **ana** (analyst)" in c.value for c in at.sidebar.caption)
    logins = [a[:3] for a in _audit(team) if a[2].startswith("login")][::-1]
    assert logins == [
        ("ana", "-", "login_failed"),
        ("mallory", "-", "login_failed"),
        ("ana", "analyst", "login"),
    ]


def test_viewer_cannot_load_delete_or_reveal(team):
    at = _sign_in(_app(), "vic")
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    assert not [r for r in at.radio if r.label == "Source"]  # no upload, no server path
    assert any("loading data needs the analyst role" in i.value for i in at.info)
    assert not [t for t in at.toggle if t.label == "Show personal data"]
    assert not [e for e in at.expander if e.label.startswith(("Delete", "Audit"))]
    assert at.dataframe[-3].value["Email"].str.contains("•••").all()
    at.switch_page("pages/overview.py").run()
    assert not [b for b in at.button if b.label == "Build report"]


def test_admin_reveal_is_audited_and_analyst_cannot_reveal(team):
    at = _sign_in(_app(), "ana")
    at.switch_page("pages/data.py").run()
    assert [r for r in at.radio if r.label == "Source"]  # an analyst loads data
    assert not [t for t in at.toggle if t.label == "Show personal data"]
    assert not [e for e in at.expander if e.label.startswith("Delete")]
    at = _sign_in(_app(), "ada")
    at.switch_page("pages/data.py").run()
    assert [e for e in at.expander if e.label.startswith("Delete")]
    at.toggle(key="data_mask").set_value(True).run()
    assert not at.dataframe[-3].value["Email"].str.contains("•••").any()
    at.run()  # a rerun does not log the same reveal twice
    reveals = [a for a in _audit(team) if a[2] == "reveal"]
    assert [(a[0], a[1], json.loads(a[3])) for a in reveals] == [("ada", "admin", {"where": "data_mask"})]


def _signed_in(name: str) -> AppTest:
    """Signed in, on Overview. Note: under AppTest a later plain rerun runs the page script alone
    (as Streamlit does for a new server's very first request), so those reruns exercise the page's
    own check (pages/_ui.get_config), not app.py's sign-in page; the browser tests cover that."""
    return _sign_in(_app(), name)


def test_idle_session_expires_and_logout_ends_it(team):
    at = _signed_in("ada")
    at.session_state["_cx_auth"] = {**at.session_state["_cx_auth"], "last_seen": time.time() - 9 * 3600}
    at.run()
    _assert_signed_out(at)
    assert "long idle time" in at.session_state["_cx_auth_message"]
    at = _signed_in("ada")
    at.sidebar.button(key="cx_logout").click().run()
    _assert_signed_out(at)
    assert [a[2] for a in _audit(team) if a[2] != "load"][:2] == ["logout", "login"]


def _assert_signed_out(at: AppTest) -> None:
    """Nothing of the page is served (AppTest runs the page script itself: the page's own check
    stops it; in a browser app.py shows the sign-in page)."""
    assert not at.exception, at.exception
    assert not at.metric and not at.dataframe and "_cx_auth" not in at.session_state


def test_removed_user_is_signed_out_at_the_next_click(team):
    from cx_core.auth.users import remove_user, set_role

    at = _signed_in("ana")
    set_role(team / "users.json", "ana", "viewer")
    at.run()
    assert at.session_state["_cx_actor"].role == "viewer" and at.metric
    remove_user(team / "users.json", "ana")
    at.run()
    _assert_signed_out(at)  # the page itself refuses
