"""Make the README tour: run the batch on the demo data, start the app, screenshot the main pages.

Usage (from the project root; needs Debian ``chromium`` and Playwright, see ``tests/e2e``)::

    python docs/make_tour.py            # fresh temp workspace, real MiniLM, writes docs/tour/*.jpg
    python docs/make_tour.py --db PATH  # screenshot an existing workspace instead (no batch run)

Everything shown is computed by the app itself (``python -m cx_core run --demo``); nothing is
staged by hand.  JPEG keeps the images small enough for the repository.
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
        "Attention",
        ":is(h2, h3):has-text('Integrated gradients')",
    ),
    ("customers", "customers", None, "Customers", None),
    ("segments", "segments", None, "Segments", '[data-testid="stPlotlyChart"]'),
    ("recommend", "recommend", None, "Recommend", None),
]
#: every plotly chart on the page has drawn its SVG
CHARTS_DRAWN = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                       .every(e => e.querySelector('.main-svg'))"""


def batch_run(env: dict[str, str]) -> None:
    """Build the demo workspace headless with the real model (the same command the README gives)."""
    subprocess.run([sys.executable, "-m", "cx_core", "run", "--demo"], cwd=ROOT, env=env, check=True)


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
    """Batch-run the demo (unless --db), start the app on it, write the screenshots."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="existing workspace to screenshot (default: build the demo in a temp dir)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "tour"))
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="cx_tour_"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CX_")}
    env.update(
        CX_DB_PATH=args.db or str(tmp / "workspace.duckdb"),
        CX_DEMO_DIR=str(tmp / "demo"),
        CX_INGEST_UPLOAD_DIR=str(tmp / "uploads"),
        PYTHONUNBUFFERED="1",
    )
    if not args.db:
        batch_run(env)
    proc, url = start_app(env, tmp / "streamlit.log")
    try:
        shoot(url, Path(args.out))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
