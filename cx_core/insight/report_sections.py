"""The sections of the HTML insight report (:mod:`cx_core.insight.report`), one function each.

Every function takes the workspace (and the PII switch) and returns an HTML fragment.
Every user string (review texts, segment and aspect names, column values) goes through
:func:`cx_core.safe.html_escape`; with ``mask_pii`` emails and phone numbers inside them
are masked first (:func:`cx_core.ingest.pii.mask_text`), and generated text (segment
names, keywords, aspects, traits) also loses emails and 5+ digit groups
(:func:`cx_core.ingest.pii_scrub.mask_name`). A section whose data is missing says so.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from cx_core.ingest.pii import mask_text
from cx_core.ingest.pii_scrub import mask_name
from cx_core.insight.drivers import aspect_drivers
from cx_core.insight.overview import KPI_FORMATS, PERIOD_DAYS, format_kpi, overview_kpis
from cx_core.plots.charts import drivers_figure
from cx_core.plots.format import fmt_value
from cx_core.plots.segments import clv_churn_figure, size_value_figure
from cx_core.reviews.store import list_models
from cx_core.safe import html_escape
from cx_core.segments.query import segment_runs
from cx_core.segments.run import load_segment_info
from cx_core.store import runs
from cx_core.store.db import Workspace

#: turns a plotly figure into an HTML fragment (the report decides where plotly.js goes)
FigureHtml = Callable[[go.Figure], str]

TOP_DRIVERS = 10


def user_text(value: object, mask_pii: bool) -> str:
    """A user string ready for HTML: emails/phones masked (when asked), then escaped."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html_escape(mask_text(str(value)) if mask_pii else str(value))


def generated_text(value: object, mask_pii: bool) -> str:
    """Generated text (a name, keyword, label) ready for HTML: personal data masked when asked."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value)
    return html_escape(str(mask_name(text)) if mask_pii else text)


def is_number(value: Any) -> bool:
    """A real number (Python or numpy), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def fmt_number(value: Any, fmt: str = "{:,.3f}") -> str:
    """A number formatted, or an en dash for missing values; other values escaped."""
    if value is None or (is_number(value) and math.isnan(float(value))):
        return "–"
    if is_number(value):
        return fmt.format(value)
    return html_escape(value)


def missing(message: str) -> str:
    """The note a section shows instead of its content."""
    return f'<p class="missing">{html_escape(message)}</p>'


def html_table(
    frame: pd.DataFrame, columns: Iterable[str], mask_pii: bool, formats: dict[str, str] | None = None
) -> str:
    """A plain HTML table of ``columns``; numbers formatted, text masked and escaped."""
    formats = formats or {}
    cols = [c for c in columns if c in frame.columns]
    head = "".join(f"<th>{html_escape(c)}</th>" for c in cols)
    rows = []
    for rec in frame[cols].itertuples(index=False):
        cells = []
        for c, v in zip(cols, rec):
            text = fmt_number(v, formats.get(c, "{:,.3f}")) if is_number(v) else user_text(v, mask_pii)
            cells.append(f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


# ---------------------------------------------------------------------- sections


def overview_section(ws: Workspace, mask_pii: bool, figure_html: FigureHtml, currency: str = "") -> str:
    """Headline KPIs with the change against the previous period."""
    kpis = overview_kpis(ws)
    if not any(kpis[k].value for k in ("customers", "orders", "reviews")):
        return missing("No data loaded: load customers, orders or reviews first.")
    cards = []
    for key, (label, _fmt) in KPI_FORMATS.items():
        k = kpis[key]
        delta = (
            ""
            if k.delta is None
            else f'<div class="delta">{html_escape(format_kpi(key, k.delta, currency, signed=True))} '
            "vs previous</div>"
        )
        value = html_escape(format_kpi(key, k.value, currency))
        hint = f'<div class="hint">{html_escape(k.hint.replace("**", ""))}</div>' if k.hint else ""
        cards.append(
            f'<div class="kpi"><div class="label">{html_escape(label)}</div>'
            f'<div class="value">{value}</div>{delta}{hint}</div>'
        )
    return (
        f'<div class="kpis">{"".join(cards)}</div><p class="note">Changes: last {PERIOD_DAYS} '
        f"days vs the {PERIOD_DAYS} days before, each source within its own dates (revenue on order "
        "dates, reviews on review dates).</p>"
    )


def drivers_section(ws: Workspace, mask_pii: bool, figure_html: FigureHtml, currency: str = "") -> str:
    """What to fix first: aspects ranked by the rating they cost, with chart and table."""
    drivers = aspect_drivers(ws)
    if drivers.empty:
        return missing("No aspect scores yet: score the reviews (Reviews page or `python -m cx_core run`).")
    shown = drivers.assign(aspect=[generated_text(a, mask_pii) for a in drivers["aspect"]])
    top = shown.iloc[0]
    lead = (
        f"<p><b>{top['aspect']}</b> costs the most: the mean rating would rise by "
        f"{top['rating_gain']:.2f} stars if its negative mentions were neutral.</p>"
    )
    table = html_table(
        drivers.head(TOP_DRIVERS),
        [
            "aspect",
            "mentions",
            "negative_mentions",
            "negative_share",
            "rating_gain",
            "churn_gain",
            "trend",
            "trend_p",
            "trend_q",
        ],
        mask_pii,
        {"mentions": "{:,.0f}", "negative_mentions": "{:,.0f}"},
    )
    return lead + figure_html(drivers_figure(shown, top=TOP_DRIVERS)) + table


def _segment_profile(row: Any, mask_pii: bool, currency: str = "") -> str:
    """One segment: name, size, value, keywords, top aspects, traits and representative reviews."""
    keywords = ", ".join(generated_text(w, mask_pii) for w in row.keywords) or "–"
    aspects = (
        ", ".join(
            f"{generated_text(a.get('aspect'), mask_pii)} ({fmt_number(a.get('share'), '{:.0%}')})"
            for a in row.top_aspects
            if isinstance(a, dict)
        )
        or "–"
    )
    traits = (
        ", ".join(generated_text(t.get("label"), mask_pii) for t in row.traits if isinstance(t, dict)) or "–"
    )
    reps = "".join(
        f"<li>{user_text(r.get('text'), mask_pii)} "
        f'<span class="rating">({fmt_number(r.get("rating"), "{:.0f}")}★)</span></li>'
        for r in row.representatives
        if isinstance(r, dict)
    )
    return (
        f'<div class="segment"><h3>{int(row.segment_id)} · {generated_text(row.name, mask_pii)}</h3>'
        f"<p>{fmt_number(row.size, '{:,.0f}')} units ({fmt_number(row.share, '{:.1%}')}); revenue share "
        f"{fmt_number(row.revenue_share, '{:.1%}')}; avg predicted lifetime value {html_escape(fmt_value('clv', row.mean_clv, currency))}; "
        f"churn rate {fmt_number(row.churn_rate, '{:.1%}')}; mean sentiment "
        f"{fmt_number(row.mean_sentiment, '{:+.2f}')}</p>"
        f"<p><b>Keywords:</b> {keywords}<br><b>Top aspects:</b> {aspects}<br>"
        f"<b>Traits:</b> {traits}</p>"
        + (f"<p><b>Representative reviews</b></p><ul>{reps}</ul>" if reps else "")
        + "</div>"
    )


def segments_section(ws: Workspace, mask_pii: bool, figure_html: FigureHtml, currency: str = "") -> str:
    """The newest segment run: size/value and value/churn charts, then one profile per segment."""
    runs = segment_runs(ws)
    if runs.empty:
        return missing("No segment run yet: run the segmentation (Segments page or `python -m cx_core run`).")
    run = runs.iloc[0]
    info = load_segment_info(ws, run["run_id"])
    if info.empty:
        return missing("The newest segment run has no segments.")
    named = info.assign(name=[str(mask_name(str(n))) if mask_pii else str(n) for n in info["name"]])
    m = run["metrics"]
    head = (
        f'<p class="note">Run {html_escape(run["run_id"])}: {fmt_number(m.get("n"), "{:,.0f}")} '
        f"{html_escape(m.get('unit_kind', 'units'))}s, {fmt_number(m.get('n_segments'), '{:,.0f}')} "
        f"segments, outliers {fmt_number(m.get('outlier_share'), '{:.1%}')}.</p>"
    )
    charts = figure_html(size_value_figure(named, m.get("unit_kind"))) + figure_html(clv_churn_figure(named))
    return head + charts + "".join(_segment_profile(r, mask_pii, currency) for r in info.itertuples())


def _review_model_quality(ws: Workspace, mask_pii: bool) -> str:
    """The newest trained review model's held-out metrics next to the baseline."""
    from cx_core.reviews.report import evaluation_table  # loads the model code: only when asked

    models = list_models(ws)
    if models.empty:
        return missing("No review model trained yet: its held-out quality will show here.")
    row = models.iloc[0]
    metrics = row["metrics"]
    table = evaluation_table(metrics if isinstance(metrics, dict) else {})
    if table.empty:
        return missing(f"Review model {row['model_id']} has no held-out metrics.")
    return f"<h3>Review model {html_escape(row['model_id'])}</h3>" + html_table(
        table, table.columns, mask_pii, {"reviews": "{:,.0f}"}
    )


def _churn_quality(ws: Workspace, mask_pii: bool) -> str:
    """The churn hold-out check of the newest profiles run, model vs BG/NBD baselines."""
    from cx_core.customers.churn import evaluation_line

    found = runs.latest(ws, runs.StageName.PROFILES)
    if found is None:
        return missing("No customer profiles yet: the churn hold-out check will show here.")
    run_id, metrics = found.run_id, found.metrics
    churn = metrics.get("churn") or {}
    ev = churn.get("evaluation") or {}
    rows = [
        {"scorer": name, **{k: v for k, v in vals.items() if k in ("auc", "pr_auc", "brier")}}
        for name, vals in ev.items()
        if isinstance(vals, dict) and "auc" in vals
    ]
    try:
        line = evaluation_line(churn)
    except (KeyError, TypeError, ValueError):
        line = "Churn hold-out metrics are incomplete."
    table = html_table(pd.DataFrame(rows), ["scorer", "auc", "pr_auc", "brier"], mask_pii) if rows else ""
    return f"<h3>Churn (profiles run {html_escape(run_id)})</h3><p>{html_escape(line)}</p>{table}"


def model_quality_section(ws: Workspace, mask_pii: bool, figure_html: FigureHtml, currency: str = "") -> str:
    """Review model vs baseline, and churn hold-out metrics."""
    return _review_model_quality(ws, mask_pii) + _churn_quality(ws, mask_pii)


def changes_section(ws: Workspace, mask_pii: bool, figure_html: FigureHtml, currency: str = "") -> str:
    """What changed (FDR-controlled alerts, segment-run changes) and significant monthly trend moves."""
    from cx_core.insight.alerts import what_changed
    from cx_core.insight.trends import monthly_trends

    alerts = what_changed(ws, mask_pii=mask_pii)  # names in the messages masked like names
    items = "".join(f"<li>{user_text(a.message, mask_pii)}</li>" for a in alerts)
    body = (
        f"<ul>{items}</ul>"
        if items
        else "<p>No significant change in aspect complaints, segment activity or segment runs.</p>"
    )
    trends = monthly_trends(ws)
    flagged = trends[trends["flags"] != ""] if not trends.empty else trends
    months = "".join(f"<li>{r.month:%Y-%m}: {html_escape(r.flags)}</li>" for r in flagged.itertuples())
    return (
        body
        + (
            f"<p><b>Significant monthly changes</b> (vs the month before)</p><ul>{months}</ul>"
            if months
            else ""
        )
        + f'<p class="note">Last {PERIOD_DAYS} days vs the {PERIOD_DAYS} days before, and the newest vs '
        "the previous segment run. Shown only when the Benjamini-Hochberg q (false-discovery rate over "
        "every change tested together) is at most 0.05; new / vanished / split / merged segments are "
        "listed untested.</p>"
    )


#: (anchor id, title, builder) in report order
SECTIONS: tuple[tuple[str, str, Callable[[Workspace, bool, FigureHtml, str], str]], ...] = (
    ("overview", "Overview", overview_section),
    ("changes", "What changed", changes_section),
    ("drivers", "What to fix first", drivers_section),
    ("segments", "Segments", segments_section),
    ("quality", "Model quality", model_quality_section),
)
