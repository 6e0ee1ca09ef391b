"""One real-browser journey through the whole app: upload → map → load → score → profile → segment → export.

The app runs with ``streamlit run`` on a brand-new workspace (the demo store loads on the first view,
kept small with CX_DEMO_CUSTOMERS) and the tiny random test encoder, so training, scoring and
segmentation take seconds.  Every page in the navigation is opened and must show no Streamlit
exception box; each gets a full-page screenshot ``test-artifacts/journey-<page>.png``.  The Export
page's CSV is downloaded through its button and checked against what the pages show.

Helpers (browser launch, waiting, screenshots, selectboxes) come from ``tests/e2e/test_browser.py``.
"""

from __future__ import annotations

import csv
import io
import re
import time

import pytest

from tests.e2e.test_browser import (
    XSS_IMG,
    _assert_nothing_executed,
    _full_page_screenshot,
    _metric_value,
    _open_listbox,
    _require_browser,
    _upload,
    _wait_idle,
    browser,  # noqa: F401  (a fixture)
    page,  # noqa: F401  (a fixture)
    running_app,
)

pytestmark = pytest.mark.e2e

FIRST_VIEW_MS = 90_000  # the first view of a new workspace builds the demo store
WORK_MS = 120_000  # training + scoring, profiles, segmentation (2 busy cores)
NAV_PAGES = (
    "Overview",
    "Data",
    "Customers",
    "Segments",
    "Reviews",
    "Model",
    "Themes",
    "Explain",
    "Export",
    "Recommend",
)
SMALL_TRAINING = {
    "CX_REVIEWS_EPOCHS": "2",
    "CX_REVIEWS_MIN_STEPS": "0",
    "CX_REVIEWS_LEXICAL_DIM": "8",
    "CX_DEMO_CUSTOMERS": "300",
    "CX_MODEL_DEVICE": "cpu",
    "CX_MODEL_DTYPE": "float32",
    "CX_MODEL_MAX_LENGTH": "64",
}
UPLOAD_ROWS = 12


def _reviews_csv() -> bytes:
    """A small reviews file with its own column names (three of them no suggestion can guess)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["fb_no", "acct", "posted_on", "stars", "comment", "headline", "note"])
    for i in range(UPLOAD_ROWS):
        good = i % 2 == 0
        w.writerow(
            [
                f"j-{i}",
                f"C{i + 1:05d}",
                f"2025-0{1 + i % 6}-1{i % 10}",
                5 if good else 1,
                "Lovely fit, great quality, fast delivery"
                if good
                else f"Broke after a week, refund please {XSS_IMG}",
                f"headline {i}",
                "internal",
            ]
        )
    return buf.getvalue().encode()


def fresh_settings(tmp, **extra: str) -> dict[str, str]:
    """CX_* settings of a brand-new workspace under ``tmp`` with the tiny encoder and short training."""
    from cx_core.reviews.testing import tiny_encoder_dir

    return {
        "CX_DB_PATH": str(tmp / "workspace.duckdb"),
        "CX_DEMO_DIR": str(tmp / "demo"),
        "CX_INGEST_UPLOAD_DIR": str(tmp / "uploads"),
        "CX_REVIEWS_MODEL_STORE": str(tmp / "models"),
        "CX_MODEL_DIR": tiny_encoder_dir(tmp),
        **SMALL_TRAINING,
        **extra,
    }


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """`streamlit run app.py` on a fresh workspace with the tiny encoder; always stopped afterwards."""
    _require_browser()
    tmp = tmp_path_factory.mktemp("e2e_journey")
    with running_app(tmp, fresh_settings(tmp), OMP_NUM_THREADS="2") as server:
        yield server


# ---------------------------------------------------------------- steps


# what each page draws last once its analysis exists (so a screenshot shows the whole page)
READY = {
    "Overview": ("heading", "What to fix first"),
    "Data": ("heading", "Loaded data"),
    "Customers": ("heading", "One customer"),
    "Segments": ("heading", "Segment profiles"),
    "Reviews": ("testid", "stDataFrame"),
    "Export": ("testid", "stDownloadButton"),
}


def _wait_done(page, timeout: int = 30_000) -> None:
    """Wait until the script run has finished (Streamlit's own run state on the app root)."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stApp")).to_have_attribute(
        "data-test-script-state", re.compile("^(notRunning|stopped|initial)$"), timeout=timeout
    )
    _wait_idle(page)


def _open(page, name: str, timeout: int = 30_000, ready: bool = True) -> None:
    """Open a page through the sidebar navigation; wait for its title, its last part and the run's end."""
    from playwright.sync_api import expect

    page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True).click(timeout=timeout)
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible(timeout=timeout)
    _wait_done(page, timeout)
    kind, what = READY.get(name, (None, None)) if ready else (None, None)
    if kind == "heading":
        expect(page.get_by_role("heading", name=what)).to_be_visible(timeout=timeout)
    elif kind == "testid":
        expect(page.get_by_test_id(what).first).to_be_visible(timeout=timeout)
    _wait_done(page, timeout)


def _no_exception(page, where: str) -> None:
    boxes = page.get_by_test_id("stException")
    assert boxes.count() == 0, f"{where}: Streamlit exception shown: {boxes.all_inner_texts()}"
    errors = page.get_by_test_id("stAlertContentError")
    assert errors.count() == 0, f"{where}: error alert shown: {errors.all_inner_texts()}"


def _form_pick(page, form, label: str, option: str) -> None:
    from playwright.sync_api import expect

    box = form.get_by_role("combobox", name=label, exact=True)
    _open_listbox(page, box).get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option)


def _upload_and_load(page) -> None:
    from playwright.sync_api import expect

    _open(page, "Data", FIRST_VIEW_MS)  # the demo store loads first
    before = _metric_value(page, "Reviews")
    box = page.get_by_role("combobox", name="What does the file hold?", exact=True)
    _open_listbox(page, box).get_by_role("option", name="Reviews", exact=True).click()
    expect(box).to_have_value("Reviews")
    _upload(page, "my_feedback.csv", _reviews_csv())
    form = page.get_by_test_id("stForm")
    expect(form.get_by_role("combobox", name="Review text *")).to_have_value("comment")
    expect(form.get_by_role("combobox", name="Customer id")).to_have_value("— not in this file —")
    _wait_done(page)
    # change suggested/missing mappings on screen: ids, customer and date are not guessable
    _form_pick(page, form, "Review id", "fb_no")
    _form_pick(page, form, "Customer id", "acct")
    _form_pick(page, form, "Review date", "posted_on")
    _form_pick(page, form, "Title", "note")  # overrides the suggested "headline" ...
    _form_pick(page, form, "Title", "headline")  # ... and back: a changed suggestion round-trips
    form.get_by_role("button", name="Validate").click()
    report = page.get_by_test_id("stAlert").filter(has_text="rows read from")
    expect(report).to_contain_text(f"{UPLOAD_ROWS} rows read from 'my_feedback.csv' as reviews.")
    page.get_by_role("button", name=f"Load {UPLOAD_ROWS} rows", exact=True).click()
    expect(page.get_by_test_id("stAlert").filter(has_text=f"Loaded {UPLOAD_ROWS} rows from")).to_be_visible()
    _wait_done(page)
    assert _metric_value(page, "Reviews") == before + UPLOAD_ROWS


def _run_analysis(page) -> None:
    from playwright.sync_api import expect

    _open(page, "Reviews", ready=False)
    page.get_by_role("button", name="Score reviews", exact=True).click()
    expect(page.get_by_test_id("stMetricLabel").get_by_text("Scored reviews", exact=True)).to_be_visible(
        timeout=WORK_MS
    )
    _wait_done(page)
    assert _metric_value(page, "Scored reviews") > UPLOAD_ROWS

    _open(page, "Customers", ready=False)
    page.get_by_role("button", name="Compute profiles", exact=True).click()
    expect(page.get_by_test_id("stMetricLabel").get_by_text("Customers profiled", exact=True)).to_be_visible(
        timeout=WORK_MS
    )
    _wait_done(page)
    assert _metric_value(page, "Customers profiled") > 0

    _open(page, "Segments", ready=False)
    page.get_by_role("button", name="Run segmentation", exact=True).click()
    expect(page.get_by_role("heading", name="Segment profiles")).to_be_visible(timeout=WORK_MS)
    _wait_done(page)


def _download_export(page, units: int) -> list[dict[str, str]]:
    from playwright.sync_api import expect

    _open(page, "Export")
    button = page.get_by_test_id("stDownloadButton").get_by_role("button")
    expect(button).to_have_text(re.compile(rf"Download CSV \({units:,} rows\)"))
    with page.expect_download() as info:
        button.click()
    download = info.value
    assert download.suggested_filename.endswith(".csv"), download.suggested_filename
    text = open(download.path(), encoding="utf-8").read()
    return list(csv.DictReader(io.StringIO(text)))


# ---------------------------------------------------------------- the journey


def test_full_journey_upload_analyse_every_page_export(page, app_server):
    started = time.monotonic()
    page.goto(app_server["url"] + "/", wait_until="domcontentloaded")
    _upload_and_load(page)
    _run_analysis(page)
    units, segments = _metric_value(page, "Customers"), _metric_value(page, "Segments")
    assert units > 0 and segments > 0

    for name in NAV_PAGES:
        if page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True).count() == 0:
            assert name == "Recommend", f"{name} is missing from the navigation"
            continue
        _open(page, name)
        _no_exception(page, name)
        _full_page_screenshot(page, f"journey-{name.lower()}.png")

    rows = _download_export(page, units)
    assert _metric_value(page, "Rows") == units and _metric_value(page, "Segments") == segments
    outliers = _metric_value(page, "Outliers (flagged)")
    assert len(rows) == units, f"export has {len(rows)} rows, the Segments page shows {units} units"
    header = list(rows[0])
    for col in ("customer_id", "segment_id", "is_outlier", "email"):
        assert col in header, f"{col} missing from the export header {header}"
    assert sum(r["is_outlier"] == "True" for r in rows) == outliers
    assert len({r["segment_id"] for r in rows if int(r["segment_id"]) >= 0}) == segments
    emails = [r["email"] for r in rows if r["email"]]
    assert emails, "no customer emails in the export"
    assert all("•••@" in e for e in emails), f"unmasked emails in the export: {emails[:3]}"
    ours = {f"C{i + 1:05d}" for i in range(UPLOAD_ROWS)}
    assert ours <= {r["customer_id"] for r in rows}, "customers of the uploaded reviews missing"
    _no_exception(page, "Export")
    _assert_nothing_executed(page)
    print(f"\njourney took {time.monotonic() - started:.1f}s in the browser")
