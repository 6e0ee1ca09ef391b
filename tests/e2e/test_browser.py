"""End-to-end tests in a real browser: the app is started with `streamlit run` and driven by Playwright.

Needs the Debian chromium at /usr/bin/chromium (``tests/e2e/install_browser.sh`` installs it).
Without it the tests are skipped, except under CI (``CI=true``) where they fail.

Each run uses a brand-new workspace in tmp (CX_DB_PATH, CX_DEMO_DIR, CX_INGEST_UPLOAD_DIR), so the
app loads its demo store on the first page view.  Full-page screenshots of the Overview and Data
pages are written to ``test-artifacts/`` (plus ``failed-<test>.png`` when a test fails).

Streamlit renders asynchronously, so everything waits through Playwright's auto-waiting locators
and ``expect`` — no fixed sleeps.  Tables (``st.dataframe``) are drawn on a canvas; their cell text
is read from the accessibility table (``table[role=grid]``) that the grid keeps inside the canvas.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    # a background tab keeps its timers (Streamlit's self-refreshing fragments run on them)
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]  # Playwright's launch() gives every browser a fresh temporary --user-data-dir itself.

FIRST_VIEW_TIMEOUT_MS = 90_000  # first page view of a new workspace builds the demo store
STEP_TIMEOUT_MS = 30_000  # any later rerun (2 busy cores)
SERVER_START_TIMEOUT_S = 60

XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(2)</script>"
SQL_INJ = '"; DROP TABLE orders; --'
UPLOAD_NAME = "reviews_<img src=x onerror=alert(3)>.csv"  # the file name is hostile too


def _require_browser() -> None:
    """Skip (fail under CI=true) when the browser or Playwright is missing."""
    problem = None
    if not Path(CHROMIUM).exists():
        problem = f"{CHROMIUM} not found; run tests/e2e/install_browser.sh"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError as exc:
            problem = f"playwright is not installed ({exc})"
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests cannot run under CI: {problem}", pytrace=False)
        pytest.skip(problem)


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _log_tail(path: Path, n: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no server log)"


def wait_healthy(proc: subprocess.Popen, url: str, log_path: Path) -> None:
    """Wait until the streamlit server answers /_stcore/health (fail with its log if it dies or stalls)."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            pytest.fail(
                f"streamlit exited with code {proc.returncode}:\n{_log_tail(log_path)}", pytrace=False
            )
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"streamlit did not answer /_stcore/health within "
                f"{SERVER_START_TIMEOUT_S}s:\n{_log_tail(log_path)}",
                pytrace=False,
            )
        time.sleep(0.25)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """`streamlit run app.py` on a free port with a brand-new workspace; always stopped afterwards."""
    _require_browser()
    tmp = tmp_path_factory.mktemp("e2e_app")
    ws = {
        "CX_DB_PATH": str(tmp / "workspace.duckdb"),
        "CX_DEMO_DIR": str(tmp / "demo"),
        "CX_INGEST_UPLOAD_DIR": str(tmp / "uploads"),
    }
    with running_app(tmp, ws) as server:
        yield server


@contextlib.contextmanager
def running_app(tmp: Path, settings: dict[str, str], host: str = "127.0.0.1", **extra_env: str):
    """`streamlit run app.py` on a free port of ``host`` with only ``settings`` as CX_* environment (no
    CX_* setting of the caller's shell leaks in); yields {url, tmp, log, **settings}; always stopped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CX_")}
    env["CX_UI_FIRST_START_ANALYSIS"] = "false"  # a test that wants the first-start job says so
    env.update(settings, PYTHONUNBUFFERED="1", **extra_env)
    port = _free_port(host)
    log_path = tmp / "streamlit.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(port),
                "--server.address",
                host,
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            url = f"http://{host}:{port}"
            wait_healthy(proc, url, log_path)
            yield {"url": url, "tmp": tmp, "log": log_path, **settings}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, app_server, request):
    """A fresh browser context and page; records dialogs and JS errors; screenshot on failure."""
    from playwright.sync_api import expect

    expect.set_options(timeout=STEP_TIMEOUT_MS)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(STEP_TIMEOUT_MS)
    pg.dialogs = []  # every alert/confirm/prompt the page opened: must stay empty
    pg.js_errors = []  # uncaught exceptions in the page

    def on_dialog(dialog):
        pg.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.on("pageerror", lambda exc: pg.js_errors.append(str(exc)))
    failed_before = request.session.testsfailed
    yield pg
    try:
        if request.session.testsfailed > failed_before:
            ARTIFACTS.mkdir(exist_ok=True)
            pg.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"), full_page=True)
            print(f"\n--- streamlit log (tail) ---\n{_log_tail(app_server['log'])}")
    finally:
        context.close()


# ---------------------------------------------------------------- helpers


def _full_page_screenshot(page, name: str) -> Path:
    """Screenshot of the whole page: Streamlit scrolls inside stMain, so grow the viewport to fit."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    height = page.evaluate(
        """() => Math.max(document.documentElement.scrollHeight,
               ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]')]
                  .map(e => e.scrollHeight))"""
    )
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 10_000)})
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def _wait_idle(page) -> None:
    """Wait until Streamlit has finished the current script run (the 'Running…' widget is gone)."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)


def _upload(page, name: str, data: bytes, mime: str = "text/csv") -> None:
    """Put one file into the page's st.file_uploader and wait until its chip shows.

    A rerun started just before (a selectbox change) can re-mount the uploader and drop a file set
    on the old input, so the upload is tried again (up to three times) while no chip appears.
    """
    from playwright.sync_api import expect

    _wait_idle(page)
    chip = page.get_by_test_id("stFileChip")  # long names are shortened on the chip
    for attempt in range(3):
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
            files=[{"name": name, "mimeType": mime, "buffer": data}]
        )
        try:
            expect(chip).to_have_count(1, timeout=15_000)
            return
        except AssertionError:
            if attempt == 2:
                raise
            _wait_idle(page)


def _metric_value(page, label: str) -> int:
    metric = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    )
    text = metric.get_by_test_id("stMetricValue").inner_text()
    return int(text.replace(",", "").strip())


def _grid(page, header: str):
    """The st.dataframe whose header row has a column ``header``."""
    return page.get_by_test_id("stDataFrame").filter(
        has=page.locator("table[role=grid] th", has_text=re.compile(rf"^{re.escape(header)}$"))
    )


def _grid_texts(grid) -> list[str]:
    """The text of every header and cell of a grid (its accessibility table, inside the canvas)."""
    return grid.locator("table[role=grid]").first.locator("th, td").all_text_contents()


def _hostile_csv() -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["review_id", "customer_id", "review_date", "rating", "review_text", XSS_IMG])
    w.writerow(["e2e-1", "C90001", "2025-03-01", 5, XSS_IMG, "a"])
    w.writerow(["e2e-2", "C90002", "2025-03-02", 1, XSS_SCRIPT, "b"])
    w.writerow(["e2e-3", "C90003", "2025-03-03", 3, SQL_INJ, "c"])
    return buf.getvalue().encode()


def _open_listbox(page, box):
    """Open a selectbox's option list; retried because a click that lands during a rerun is lost."""
    listbox = page.get_by_role("listbox")
    for _ in range(10):
        box.click()
        try:
            listbox.wait_for(state="visible", timeout=2_000)
            return listbox
        except Exception:  # playwright TimeoutError
            page.keyboard.press("Escape")
    raise AssertionError(f"the option list of {box} never opened")


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the st.selectbox labelled ``label`` (a combobox with a listbox)."""
    from playwright.sync_api import expect

    box = page.get_by_role("combobox", name=label, exact=True)
    _open_listbox(page, box).get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option)


def _assert_nothing_executed(page) -> None:
    assert page.dialogs == [], f"a dialog was opened: injected script ran: {page.dialogs}"
    assert page.locator("img[src='x']").count() == 0, "an <img src=x> from the data reached the DOM"
    scripts = page.evaluate("() => [...document.scripts].map(s => s.textContent)")
    assert not [s for s in scripts if "alert(" in s], "a <script> from the data reached the DOM"
    assert page.js_errors == [], f"uncaught JS errors in the page: {page.js_errors}"


# ---------------------------------------------------------------- tests


def test_overview_shows_demo_kpis(page, app_server):
    from playwright.sync_api import expect

    page.goto(app_server["url"] + "/", wait_until="domcontentloaded")
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible(
        timeout=FIRST_VIEW_TIMEOUT_MS
    )
    customers = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text("Customers", exact=True)
    )
    # the first view of a new workspace builds the demo store (progress bar) before the KPIs show
    expect(customers.get_by_test_id("stMetricValue")).to_have_text(
        re.compile(r"^\s*[1-9][\d,]*\s*$"), timeout=FIRST_VIEW_TIMEOUT_MS
    )
    for label in ("Orders", "Revenue", "Reviews"):
        assert _metric_value(page, label) > 0, f"{label} KPI is zero on the demo store"
    expect(
        page.get_by_test_id("stMetric").filter(has_text="Avg rating").get_by_test_id("stMetricValue")
    ).to_have_text(re.compile(r"^\s*\d\.\d\d\s*$"))
    # the monthly activity chart is drawn (Plotly renders its SVG after the element mounts)
    expect(page.locator('[data-testid="stPlotlyChart"] .main-svg').first).to_be_visible()
    _wait_idle(page)
    # the workspace lives where the environment says, not in the repository
    assert Path(app_server["CX_DB_PATH"]).exists()
    assert any(Path(app_server["CX_DEMO_DIR"]).glob("*.csv"))
    _full_page_screenshot(page, "overview.png")
    _assert_nothing_executed(page)


def test_upload_hostile_reviews_is_shown_literally_and_never_executed(page, app_server):
    from playwright.sync_api import expect

    page.goto(app_server["url"] + "/", wait_until="domcontentloaded")
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_role("link", name="Data").click(timeout=FIRST_VIEW_TIMEOUT_MS)
    expect(page).to_have_url(re.compile(r"/data$"))
    expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible(timeout=FIRST_VIEW_TIMEOUT_MS)
    expect(page.get_by_test_id("stFileUploaderDropzone")).to_be_visible(timeout=FIRST_VIEW_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Loaded data")).to_be_visible(timeout=FIRST_VIEW_TIMEOUT_MS)
    _wait_idle(page)
    reviews_before = _metric_value(page, "Reviews")

    _pick(page, "What does the file hold?", "Reviews")
    expect(page.get_by_role("radio", name="Upload a file")).to_be_checked()
    _upload(page, UPLOAD_NAME, _hostile_csv())

    # preview: the hostile header and values are plain cell text
    preview = _grid(page, "review_text")
    expect(preview).to_have_count(1)
    expect(preview.locator("table[role=grid]")).to_contain_text(SQL_INJ)
    cells = _grid_texts(preview)
    for s in (XSS_IMG, XSS_SCRIPT, SQL_INJ):
        assert s in cells, f"{s!r} not shown literally in the file preview: {cells}"

    # mapping: suggested for a reviews file; the text field picks review_text
    form = page.get_by_test_id("stForm")
    expect(form.get_by_role("combobox", name="Review text *")).to_have_value("review_text")
    expect(form.get_by_role("combobox", name="Review date")).to_have_value("review_date")
    expect(form.get_by_role("combobox", name="Rating")).to_have_value("rating")
    # the hostile column name is offered as a plain option, then left unmapped
    _wait_idle(page)
    options = _open_listbox(page, form.get_by_role("combobox", name="Title")).get_by_role("option")
    expect(options.filter(has_text=XSS_IMG)).to_have_count(1)
    assert XSS_IMG in options.all_text_contents()
    page.keyboard.press("Escape")
    expect(page.get_by_role("listbox")).to_have_count(0)
    expect(form.get_by_role("combobox", name="Title")).to_have_value("— not in this file —")
    form.get_by_role("button", name="Validate").click()

    # validation report, with the hostile file name shown literally
    expect(page.get_by_text("Validation report", exact=True)).to_be_visible()
    report = page.get_by_test_id("stAlert").filter(has_text="rows read from")
    expect(report).to_contain_text(f"3 rows read from '{UPLOAD_NAME}' as reviews.")
    expect(report).to_contain_text("3 rows would be loaded.")
    load = page.get_by_role("button", name="Load 3 rows", exact=True)
    expect(load).to_be_enabled()
    _assert_nothing_executed(page)
    load.click()

    done = page.get_by_test_id("stAlert").filter(has_text=re.compile(r"Loaded 3 rows from"))
    expect(done).to_be_visible()
    _wait_idle(page)

    # the datasets table lists the new dataset, with its (hostile) name as plain text (ids hidden)
    datasets = _grid(page, "File")
    expect(datasets.locator("table[role=grid]")).to_contain_text(UPLOAD_NAME)
    texts = _grid_texts(datasets)
    assert UPLOAD_NAME in texts and not any(t.startswith("ds_") for t in texts), texts
    assert _metric_value(page, "Reviews") == reviews_before + 3
    # the upload went to the configured upload folder (a per-session folder) and was deleted after the load
    assert not any(Path(app_server["CX_INGEST_UPLOAD_DIR"]).rglob("*.csv"))

    _full_page_screenshot(page, "data.png")
    _assert_nothing_executed(page)
