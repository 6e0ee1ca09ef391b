"""A marketer's first start in a real browser: a brand-new workspace loads the demo store and analyses
it end to end as a job; afterwards every page shows results, not "No … yet"."""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import (
    _full_page_screenshot,
    _require_browser,
    browser,  # noqa: F401
    running_app,
)
from tests.e2e.test_journey import (
    FIRST_VIEW_MS,
    NAV_PAGES,
    _no_exception,
    _open,
    _wait_done,
    fresh_settings,
)

pytestmark = pytest.mark.e2e

ANALYSIS_MS = 420_000  # the whole pipeline on the small demo store, 2 busy cores
#: what each page shows once the first-start analysis finished
RESULTS = {
    "Customers": ("metric", "Customers profiled"),
    "Segments": ("heading", "Segment profiles"),
    "Reviews": ("metric", "Scored reviews"),
    "Recommend": ("testid", "stDataFrame"),
    "Overview": ("heading", "What to fix first"),
}


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    _require_browser()
    tmp = tmp_path_factory.mktemp("e2e_first")
    with running_app(
        tmp, fresh_settings(tmp, CX_UI_FIRST_START_ANALYSIS="true"), OMP_NUM_THREADS="1"
    ) as server:
        yield server


def test_first_start_analyses_the_demo_and_every_page_shows_results(browser, app_server):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(app_server["url"] + "/", wait_until="domcontentloaded")
        expect(page.get_by_text("Analysing everything (started by the first start")).to_be_visible(
            timeout=FIRST_VIEW_MS
        )
        _full_page_screenshot(page, "first-start-running.png")
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("Running jobs")).to_have_count(0, timeout=ANALYSIS_MS)
        page.reload(wait_until="domcontentloaded")
        for name in NAV_PAGES:
            _open(page, name, ready=False)
            kind, what = RESULTS.get(name, (None, None))
            if kind == "metric":
                expect(page.get_by_test_id("stMetricLabel").get_by_text(what, exact=True)).to_be_visible()
            elif kind == "heading":
                expect(page.get_by_role("heading", name=what)).to_be_visible()
            elif kind == "testid":
                expect(page.get_by_test_id(what).first).to_be_visible()
            _wait_done(page)
            _no_exception(page, name)
            _full_page_screenshot(page, f"first-start-{name.lower()}.png")
    finally:
        context.close()
