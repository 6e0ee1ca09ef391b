"""Jobs in a real browser: a job started in one tab shows in a second tab, survives closing the first,
and its result is on the page after a reload (Debian chromium + Playwright)."""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import _require_browser, browser, running_app  # noqa: F401  (browser: fixture)
from tests.e2e.test_journey import FIRST_VIEW_MS, _open, _wait_done, fresh_settings

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    _require_browser()
    tmp = tmp_path_factory.mktemp("e2e_jobs")
    with running_app(tmp, fresh_settings(tmp, CX_REVIEWS_MIN_STEPS="2500"), OMP_NUM_THREADS="1") as server:
        yield server


def test_job_outlives_its_tab_and_shows_everywhere(browser, app_server, tmp_path):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    first, second = context.new_page(), context.new_page()
    try:
        first.goto(app_server["url"] + "/", wait_until="domcontentloaded")
        _open(first, "Model", FIRST_VIEW_MS, ready=False)  # the demo store loads on the first view
        second.goto(app_server["url"] + "/", wait_until="domcontentloaded")  # open before the job
        _wait_done(second, FIRST_VIEW_MS)
        first.get_by_role("button", name="Train model", exact=True).click()
        expect(first.get_by_test_id("stProgress").first).to_be_visible(timeout=60_000)

        second.bring_to_front()
        sidebar = second.get_by_test_id("stSidebar")  # its sidebar refreshes itself
        expect(sidebar.get_by_text("Running jobs")).to_be_visible(timeout=120_000)
        expect(sidebar.get_by_text("Training the review model", exact=False)).to_be_visible()
        second.screenshot(path=str(tmp_path / "second-tab-running.png"))
        first.close()  # the tab that started the job goes away mid-job

        expect(sidebar.get_by_text("Running jobs")).to_have_count(0, timeout=240_000)
        second.reload(wait_until="domcontentloaded")
        _open(second, "Model", ready=False)
        expect(second.get_by_role("heading", name="Held-out evaluation")).to_be_visible(timeout=60_000)
        _wait_done(second)
    finally:
        context.close()


def test_batch_cli_runs_while_the_app_is_up_and_its_runs_show_in_the_app(browser, app_server, tmp_path):
    """The app holds the DuckDB file; `python -m cx_core run` hands itself to the app (one writer),
    prints its summary, and the app's pages show the new runs."""
    import json
    import os
    import subprocess
    import sys

    from playwright.sync_api import expect

    from tests.conftest import ROOT

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(app_server["url"] + "/", wait_until="domcontentloaded")
        _open(page, "Segments", FIRST_VIEW_MS, ready=False)  # the app now holds the workspace
        env = {k: v for k, v in os.environ.items() if not k.startswith("CX_")}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "cx_core",
                "--db",
                app_server["CX_DB_PATH"],
                "run",
                "--skip",
                "themes",
                "--skip",
                "recommend",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "runs there as job" in done.stderr
        summary = json.loads(done.stdout[done.stdout.index("{") :])
        assert "segments" in summary["ran"], summary
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("Running jobs")).to_have_count(0, timeout=60_000)
        page.reload(wait_until="domcontentloaded")
        _open(page, "Segments", ready=False)
        expect(page.get_by_role("heading", name="Segment profiles")).to_be_visible(timeout=60_000)
        page.screenshot(path=str(tmp_path / "segments-after-cli-batch.png"), full_page=True)
    finally:
        context.close()
