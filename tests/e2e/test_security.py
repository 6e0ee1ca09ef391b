"""Security in a real browser (Playwright + Debian chromium): the access gate, roles, audit, server paths.

Two servers, each started with `streamlit run app.py` on a fresh tmp workspace:

* **unguarded**: no users file, served on loopback with ``CX_AUTH_ASSUME_REMOTE=true`` (the setting
  for an app behind a proxy: the server then takes itself as reached from beyond this machine; test
  traffic never leaves loopback).
  Nothing is served: not the pages, not the workspace, not even on a new server's very first
  request straight to ``/data`` (Streamlit then runs ``pages/data.py`` without app.py).
* **team**: a users file with a viewer, an analyst and an admin, a seeded segment run, and an
  allowed server folder holding a symlink to a secret outside it.  The viewer cannot load, delete
  or reveal; the analyst's export is masked and audited; the admin's reveal is audited (read back
  from the audit-log CSV the admin downloads); every refused server path gets the same words.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from pathlib import Path

import pytest

from cx_core.auth.users import add_user
from cx_core.config import load_config
from cx_core.ingest.server_paths import REFUSED
from cx_core.store.db import Workspace
from tests.e2e.test_browser import ARTIFACTS, _require_browser, browser, running_app  # noqa: F401  (browser: fixture)

pytestmark = pytest.mark.e2e

STEP_MS = 30_000
PW = {"vic": "viewer password 1", "ana": "analyst password 1", "ada": "admin password 12"}
SECRET = "DB_PASSWORD=hunter2"


@contextlib.contextmanager
def serve(tmp: Path, host: str, settings: dict[str, str]):
    """`streamlit run app.py` bound to ``host`` with only ``settings`` as CX_* environment."""
    with running_app(tmp, settings, host=host) as server:
        yield server["url"]


@contextlib.contextmanager
def new_page(browser, name: str):
    """A fresh context (a new Streamlit session); screenshot kept under test-artifacts/."""
    from playwright.sync_api import expect

    expect.set_options(timeout=STEP_MS)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(STEP_MS)
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTIFACTS / f"security-{name}.png"), full_page=True)
        context.close()


def _idle(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)


def _heading(page, text: str):
    return page.get_by_role("heading", name=text, exact=True)


# ---------------------------------------------------------------- the gate


def test_unguarded_server_beyond_loopback_serves_nothing(browser, tmp_path):
    from playwright.sync_api import expect

    settings = {
        "CX_DB_PATH": str(tmp_path / "ws.duckdb"),
        "CX_DEMO_DIR": str(tmp_path / "demo"),
        "CX_INGEST_UPLOAD_DIR": str(tmp_path / "uploads"),
        "CX_AUTH_USERS_FILE": str(tmp_path / "users.json"),
    }
    # Test traffic stays on loopback: the proxy setting makes the server treat itself as reached from
    # beyond this machine (the same decision a non-loopback server.address takes; unit-tested in
    # tests/auth with real addresses).
    settings["CX_AUTH_ASSUME_REMOTE"] = "true"
    with serve(tmp_path, "127.0.0.1", settings) as url, new_page(browser, "unguarded") as page:
        page.goto(url + "/data", wait_until="domcontentloaded")  # the server's very first request
        _idle(page)  # Streamlit would run pages/data.py without app.py: it reruns through app.py
        expect(_heading(page, "Login is not set up")).to_be_visible()  # app.py's gate answered
        expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)  # not the pages/ file list
        for test_id in ("stDataFrame", "stMetric", "stFileUploader", "stRadio"):
            expect(page.get_by_test_id(test_id)).to_have_count(0)
        page.goto(url + "/", wait_until="domcontentloaded")
        expect(_heading(page, "Login is not set up")).to_be_visible()
        expect(page.get_by_text("python -m cx_core users add")).to_be_visible()
        page.goto(url + "/export", wait_until="domcontentloaded")
        expect(_heading(page, "Login is not set up")).to_be_visible()
        expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)  # no page list either
        _idle(page)
    assert not (tmp_path / "ws.duckdb").exists(), "the workspace was opened for an unguarded session"


# ---------------------------------------------------------------- roles


@pytest.fixture(scope="module")
def team_server(tmp_path_factory):
    """Loopback server with three users, a seeded segment run and an allowed folder with a symlink out."""
    _require_browser()
    from tests.insight.test_export import seed_workspace

    tmp = tmp_path_factory.mktemp("team")
    allowed = tmp / "allowed"
    allowed.mkdir()
    (tmp / "secret.env").write_text(SECRET + "\n")
    (allowed / "innocent.csv").symlink_to(tmp / "secret.env")
    (allowed / "sub").mkdir()
    settings = {
        "CX_DB_PATH": str(tmp / "ws.duckdb"),
        "CX_DEMO_DIR": str(tmp / "demo"),
        "CX_INGEST_UPLOAD_DIR": str(tmp / "uploads"),
        "CX_INGEST_ALLOWED_DIRS": str(allowed),
        "CX_AUTH_USERS_FILE": str(tmp / "users.json"),
    }
    for name, role in (("vic", "viewer"), ("ana", "analyst"), ("ada", "admin")):
        add_user(tmp / "users.json", name, PW[name], role)
    ws = Workspace.open(load_config(env=settings).db)
    try:
        seed_workspace(ws)
        with ws.write() as cur:
            cur.execute("INSERT INTO meta VALUES ('demo_seeded', 'e2e')")
            cur.execute(
                "INSERT INTO datasets VALUES ('c', 'customers', 'crm.csv', 'sha', now(), 5, 0, '{}', '{}')"
            )
    finally:
        ws.close()
    with serve(tmp, "127.0.0.1", settings) as url:
        yield {"url": url, "tmp": tmp}


def _sign_in(page, url: str, name: str) -> None:
    from playwright.sync_api import expect

    page.goto(url + "/", wait_until="domcontentloaded")
    expect(_heading(page, "Sign in to CX Insight")).to_be_visible()
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(PW[name])
    page.get_by_role("button", name="Sign in").click()
    expect(_heading(page, "Overview")).to_be_visible()
    expect(page.get_by_text(f"Signed in as {name}")).to_be_visible()


def _open(page, link: str) -> None:
    from playwright.sync_api import expect

    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click()
    expect(_heading(page, link)).to_be_visible()
    _idle(page)


def test_viewer_cannot_load_delete_or_reveal(browser, team_server):
    from playwright.sync_api import expect

    with new_page(browser, "viewer") as page:
        page.goto(team_server["url"] + "/data", wait_until="domcontentloaded")
        _idle(page)  # the server's first request runs pages/data.py alone: its own check stops it
        for test_id in ("stDataFrame", "stMetric", "stFileUploader", "stRadio"):
            expect(page.get_by_test_id(test_id)).to_have_count(0)
        _sign_in(page, team_server["url"], "vic")
        expect(page.get_by_role("button", name="Build report")).to_have_count(0)
        _open(page, "Data")
        expect(page.get_by_text("loading data needs the analyst role")).to_be_visible()
        expect(page.get_by_test_id("stFileUploader")).to_have_count(0)
        expect(page.get_by_text("Delete a dataset")).to_have_count(0)
        expect(page.get_by_text("Audit log (administrators)")).to_have_count(0)
        expect(_reveal(page)).to_have_count(0)
        expect(page.get_by_text("only administrators can reveal it").first).to_be_visible()
        _open(page, "Export")
        expect(_reveal(page)).to_have_count(0)
        page.get_by_test_id("stSidebar").get_by_role("button", name="Log out").click()
        expect(_heading(page, "Sign in to CX Insight")).to_be_visible()
        _idle(page)
        expect(page.get_by_text("Signed in as")).to_have_count(0)
        expect(page.get_by_test_id("stDataFrame")).to_have_count(0)


def _reveal(page):
    """The 'Show personal data' switch (absent for every role but admin)."""
    return page.get_by_role("switch", name="Show personal data")


def _download(page, button: str) -> str:
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile(button)).click()
    return open(info.value.path(), encoding="utf-8").read()


def test_analyst_export_is_masked_and_admin_reveal_is_audited(browser, team_server):
    from playwright.sync_api import expect

    with new_page(browser, "analyst") as page:
        _sign_in(page, team_server["url"], "ana")
        _open(page, "Export")
        expect(_reveal(page)).to_have_count(0)
        rows = list(csv.DictReader(io.StringIO(_download(page, r"^Download CSV"))))
        assert rows and "ada@example.com" not in str(rows)
        assert all("•" in r["email"] for r in rows if r["email"]), rows
        _idle(page)
    with new_page(browser, "admin") as page:
        _sign_in(page, team_server["url"], "ada")
        _open(page, "Data")
        page.get_by_text("Show personal data").click()
        expect(_reveal(page)).to_be_checked()
        _idle(page)
        page.get_by_text("Audit log (administrators)").click()
        log = list(csv.DictReader(io.StringIO(_download(page, r"^Download the audit log"))))
    actions = [(r["actor"], r["role"], r["action"]) for r in log]
    assert ("ada", "admin", "reveal") in actions
    export = next(r for r in log if r["action"] == "export")
    assert (export["actor"], export["role"]) == ("ana", "analyst")
    assert '"masked": true' in export["detail"] and f'"rows": {len(rows)}' in export["detail"]
    assert SECRET not in str(log)


def test_every_refused_server_path_gets_the_same_words(browser, team_server):
    from playwright.sync_api import expect

    tmp = team_server["tmp"]
    tries = [
        "/etc/passwd",
        str(tmp / "secret.env"),
        "../secret.env",
        "innocent.csv",
        str(tmp / "allowed" / "innocent.csv"),
        "missing.csv",
        "sub",
        "/nonexistent/x.csv",
    ]
    with new_page(browser, "server-paths") as page:
        _sign_in(page, team_server["url"], "ada")
        _open(page, "Data")
        page.get_by_text("Path on the server").click()
        box = page.get_by_role("textbox", name="Path to a file on the server")
        seen = []
        for raw in tries:
            box.fill(raw)
            box.press("Enter")
            _idle(page)
            alert = page.get_by_test_id("stAlertContentError")
            expect(alert).to_have_count(1)
            seen.append(alert.inner_text().strip())
        assert set(seen) == {REFUSED}, seen
        assert SECRET not in page.content()
        expect(page.get_by_test_id("stDataFrame").filter(has_text="DB_PASSWORD")).to_have_count(0)
