"""The self-contained HTML insight report: overview, drivers, segments, model quality.

``build_report(ws)`` returns one HTML document that opens without a network: plotly.js
is embedded once in a ``<script>`` in the head and every chart is a fragment without it.
Personal data (emails, phone numbers in texts and names) is masked unless
``mask_pii=False``; every user string is escaped (see :mod:`cx_core.insight.report_sections`).
The page's download button, the ``report`` CLI command and the batch export share it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import plotly.graph_objects as go

from cx_core.insight.report_sections import SECTIONS
from cx_core.safe import html_escape
from cx_core.store.db import Workspace

TITLE = "CX Insight report"
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1f2430;padding:0 1rem}h1{margin-bottom:0}h2{border-bottom:2px solid #2E6FDB;padding-bottom:.2rem;
margin-top:2.5rem}.note,.hint{color:#5b6275;font-size:.9rem}.missing{background:#fff6e0;padding:.6rem;
border-left:4px solid #F2A541}.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:.8rem}
.kpi{border:1px solid #dde3ee;border-radius:6px;padding:.6rem}.kpi .label{color:#5b6275;font-size:.85rem}
.kpi .value{font-size:1.5rem;font-weight:600}.delta{font-size:.85rem}table{border-collapse:collapse;
margin:.8rem 0;font-size:.88rem}th,td{border:1px solid #dde3ee;padding:.25rem .5rem;text-align:left}
th{background:#f1f4fa}.segment{border-top:1px solid #dde3ee;margin-top:1rem}nav a{margin-right:1rem}
"""


def plotly_js() -> str:
    """The plotly.js bundle (offline copy shipped with the plotly package)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def figure_html(fig: go.Figure) -> str:
    """A chart as an HTML fragment that relies on the page's single plotly.js."""
    return (
        '<div class="chart">'
        + fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
        + "</div>"
    )


def _section(ws: Workspace, anchor: str, title: str, build, mask_pii: bool, currency: str = "") -> str:
    """One section; an error while building it becomes a note instead of failing the report."""
    try:
        body = build(ws, mask_pii, figure_html, currency)
    except Exception as exc:  # noqa: BLE001 - a broken section must not lose the others
        body = (
            f'<p class="missing">This section could not be built: '
            f"{html_escape(type(exc).__name__)}: {html_escape(exc)}</p>"
        )
    return f'<section id="{anchor}"><h2>{html_escape(title)}</h2>{body}</section>'


def build_report(
    ws: Workspace, mask_pii: bool = True, generated_at: datetime | None = None, currency: str = ""
) -> str:
    """The whole report as one self-contained HTML document (a str); money shows ``currency``."""
    when = (generated_at or datetime.now()).strftime("%Y-%m-%d %H:%M")
    nav = "".join(f'<a href="#{a}">{html_escape(t)}</a>' for a, t, _ in SECTIONS)
    body = "".join(_section(ws, a, t, b, mask_pii, currency) for a, t, b in SECTIONS)
    pii = "Personal data masked." if mask_pii else "Personal data NOT masked: handle with care."
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{TITLE}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<style>{_STYLE}</style><script type="text/javascript">{plotly_js()}</script></head>'
        f'<body><h1>{TITLE}</h1><p class="note">Generated {when}. {pii}</p><nav>{nav}</nav>'
        f"{body}</body></html>"
    )


def write_report(ws: Workspace, path: str | Path, mask_pii: bool = True, currency: str = "") -> Path:
    """Write :func:`build_report` to ``path`` (parent folders created); returns the path."""
    target = Path(path)
    if target.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"the report is an HTML file: give a path ending in .html, got {str(target)!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(build_report(ws, mask_pii, currency=currency), encoding="utf-8")
    return target
