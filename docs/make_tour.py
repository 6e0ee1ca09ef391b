"""Make the README tour from what a new user sees: the app's first start, then the main pages.

Usage (from the project root; needs Debian ``chromium`` and Playwright, see ``tests/e2e``)::

    python docs/make_tour.py              # fresh temp workspace, real MiniLM, writes docs/tour/*.jpg
    python docs/make_tour.py --keep DIR   # the same, and keep the analysed workspace in DIR
    python docs/make_tour.py --db PATH    # screenshot an existing workspace (no first start)

The first run does exactly what README's two commands lead to: ``streamlit run app.py`` on a
brand-new workspace, one browser tab on the Overview, which loads the demo store and starts the
first-start analysis job (``ui.first_start_analysis``); the script waits, with the tab open, until
that job has finished and the Overview shows "What to fix first", then saves each page. Nothing is
staged by hand. JPEG keeps the images small enough for the repository.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1400, "height": 1000}
#: (file name, url path, button to press first or None, heading that must be on the page at the
#: end, Playwright selector of what to scroll to the top of the screenshot or None)
SHOTS = [
    ("overview", "", None, "What to fix first", None),
    ("reviews", "reviews", None, "Reviews", None),
    (
        "explain",
        "explain",
        "Explain this review",
        "Where the model looked",
        ":is(h2, h3):has-text('Words that decided it')",
    ),
    ("customers", "customers", None, "Customers", None),
    ("segments", "segments", None, "Segments", '[data-testid="stPlotlyChart"]'),
    ("recommend", "recommend", None, "Recommend", None),
]
#: every plotly chart on the page has drawn its SVG
CHARTS_DRAWN = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                       .every(e => e.querySelector('.main-svg'))"""


#: the first start on 2 busy cores: demo store load, then the whole analysis as one job
FIRST_START_TIMEOUT_MS = 60 * 60_000


def first_start(url: str) -> None:
    """Open the Overview of a brand-new workspace as a new user would and keep the tab open until
    the first-start analysis job has finished (no "Running jobs" in the sidebar) and the Overview
    shows its results."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(url)
        expect(page.get_by_text("Running jobs").first).to_be_visible(timeout=15 * 60_000)
        print("first-start analysis running", flush=True)
        deadline = time.monotonic() + FIRST_START_TIMEOUT_MS / 1000
        while page.get_by_text("Running jobs").count() and time.monotonic() < deadline:
            page.wait_for_timeout(30_000)  # the tab stays on the app; a reload reads the job table afresh
            page.reload()
            page.wait_for_timeout(10_000)
        page.goto(url)
        expect(page.get_by_role("heading", name="What to fix first").first).to_be_visible(timeout=300_000)
        print("first-start analysis finished", flush=True)
        browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` on a free port; returns the process and its URL once healthy."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"streamlit did not start; log: {log}")


def shoot(url: str, out: Path) -> list[Path]:
    """Open each page, press its button if any, wait for the run to finish, save a screenshot."""
    from playwright.sync_api import expect, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(180_000)
        expect.set_options(timeout=180_000)
        for name, path, button, must_see, scroll_to in SHOTS:
            page.goto(f"{url}/{path}")
            if button:
                page.get_by_role("button", name=button).first.click()
            expect(page.get_by_role("heading", name=must_see).first).to_be_visible()
            expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
            page.wait_for_function(CHARTS_DRAWN)
            if scroll_to:
                page.locator(scroll_to).first.evaluate("e => e.scrollIntoView()")
            page.wait_for_timeout(2000)  # let the last chart finish its transition
            target = out / f"{name}.jpg"
            page.screenshot(path=str(target), type="jpeg", quality=80)
            saved.append(target)
            print(f"saved {target.relative_to(ROOT)}")
        browser.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    """First start on a fresh workspace (unless --db), then the screenshots."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="existing workspace to screenshot (default: a first start in a temp dir)")
    ap.add_argument("--keep", help="folder for the fresh workspace (kept afterwards; default: a temp dir)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "tour"))
    args = ap.parse_args(argv)
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cx_tour_"))
    tmp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CX_")}
    env.update(
        CX_DB_PATH=args.db or str(tmp / "workspace.duckdb"),
        CX_DEMO_DIR=str(tmp / "demo"),
        CX_INGEST_UPLOAD_DIR=str(tmp / "uploads"),
        PYTHONUNBUFFERED="1",
    )
    proc, url = start_app(env, tmp / "streamlit.log")
    try:
        if not args.db:
            first_start(url)
        shoot(url, Path(args.out))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
