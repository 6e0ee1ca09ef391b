"""Overview: headline KPIs with change vs the previous period, what to fix first, trends."""

from __future__ import annotations

import streamlit as st

from cx_core.ingest.joins import reviewer_match
from cx_core.insight.alerts import alerts_version, what_changed
from cx_core.insight.drivers import aspect_drivers
from cx_core.insight.overview import KPI_FORMATS, PERIOD_DAYS, format_kpi, overview_kpis, overview_version
from cx_core.insight.report import build_report
from cx_core.insight.trends import activity_by_source, monthly_trends
from cx_core.pipeline.jobs import BATCH
from cx_core.plots.charts import activity_figure, drivers_figure, trends_figure
from pages._run import analysis_running, estimate_caption, run_stage
from pages._ui import (
    allowed,
    audit,
    currency,
    get_config,
    get_workspace,
    how_computed,
    mask_pii_toggle,
    md,
    show_table,
    user_errors,
)

st.title("Overview")
ws = get_workspace()


@st.cache_data(show_spinner=False)
def _kpis(version: str) -> dict:
    return overview_kpis(ws)


@st.cache_data(show_spinner=False)
def _coverage(version: str) -> str | None:
    return reviewer_match(ws)


@st.cache_data(show_spinner=False)
def _activity(version: str):
    return activity_by_source(ws)


@st.cache_data(show_spinner=False)
def _alerts(version: str) -> list:
    return what_changed(ws, mask_pii=get_config().ui.mask_pii)  # segment/aspect names masked


def _what_changed() -> None:
    """Significant changes, last period vs the one before (plain-text messages, escaped)."""
    st.subheader("What changed")
    alerts = _alerts(alerts_version(ws))
    if not alerts:
        st.caption(
            f"Nothing changed beyond chance in complaints per aspect, segment activity or segments: "
            f"last {PERIOD_DAYS} days vs the {PERIOD_DAYS} days before, newest vs previous segment run."
        )
    else:
        st.markdown("\n".join(f"- {md(a.headline)}" for a in alerts))
    how_computed(
        "Each change is tested (two-proportion z-test, p); q is the Benjamini-Hochberg false-discovery "
        "rate over every change tested, and only q <= 0.05 is shown. New, vanished, split and merged "
        "segments (newest vs previous segment run, matched by member overlap) are listed untested."
    )


@st.cache_data(show_spinner=False)
def _drivers(version: str):
    return aspect_drivers(ws), monthly_trends(ws)


def _metric(col, key: str, kpi) -> None:
    label = KPI_FORMATS[key][0]
    cur = currency()
    if kpi.value is None:
        col.metric(label, "–", help=kpi.hint or None)
        return
    delta = None if kpi.delta is None else format_kpi(key, kpi.delta, cur, signed=True)
    col.metric(
        label,
        format_kpi(key, kpi.value, cur),
        delta=delta,
        delta_color="off" if key in ("customers", "reviews") else "normal",
        help=None
        if kpi.delta is None
        else f"Change: {kpi.period} ({format_kpi(key, kpi.current, cur)} vs "
        f"{format_kpi(key, kpi.previous, cur)}).",
    )


def _report_download() -> None:
    """Insight report: built only when asked (it embeds plotly.js, ~5 MB), then downloadable."""
    st.subheader("Insight report")
    st.caption(
        "One self-contained HTML file (opens without a network): overview, drivers, segments "
        "with representative reviews, model quality."
    )
    if not allowed("report"):
        st.caption("Building reports needs the analyst role.")
        return
    mask = mask_pii_toggle("report_mask_pii")
    if st.button("Build report", key="build_report"):
        with user_errors(), st.spinner("Building the report"):
            html = build_report(ws, mask_pii=mask, currency=currency())
            audit("report", masked=mask)
            st.session_state["report_html"] = (html, mask)
    built = st.session_state.get("report_html")
    if built:
        st.download_button(
            "Download insight report (HTML)",
            built[0].encode("utf-8"),
            file_name="cx_insight_report.html",
            mime="text/html",
            key="report_download",
            help="Personal data masked." if built[1] else "Personal data NOT masked.",
        )


def _analyse_everything() -> None:
    """The whole pipeline as one job: while it runs, say so; else offer it for the loaded data."""
    running = analysis_running()
    if running is not None:
        by = "the first start (the demo store)" if running.started_by == "first start" else running.started_by
        st.info(
            md(
                f"Analysing everything (started by {by}): {running.message}. Pages fill in as each "
                "step finishes; the sidebar shows the progress on every page."
            )
        )
        return
    if not allowed("analyse"):
        return
    c1, c2 = st.columns([1, 3])
    if c1.button(
        "Analyse everything",
        key="analyse_everything",
        help="Embeddings, review model and scores, customer profiles, segments, themes and "
        "recommendations for everything loaded; steps whose inputs did not change are skipped.",
    ):
        if run_stage(BATCH) is not None:
            st.rerun()
    c2.caption(md(estimate_caption(BATCH) or "Runs every analysis as one job (minutes on the demo store)."))


version = overview_version(ws)
k = _kpis(version)
if not any(k[x].value for x in ("customers", "orders", "reviews")):
    st.info("No data loaded yet. Open the **Data** page to upload customers, orders or reviews.")
    st.stop()

_analyse_everything()

for row in (list(KPI_FORMATS)[:4], list(KPI_FORMATS)[4:]):
    for col, key in zip(st.columns(4), row):
        _metric(col, key, k[key])
coverage = _coverage(version)
if coverage:  # orders and reviews from different sources: say how far they join
    (st.warning if coverage.startswith("0 of") else st.caption)(md(coverage))
hints = sorted({kpi.hint for kpi in k.values() if kpi.hint})
for h in hints:
    st.caption(h)
st.caption(
    f"Changes: last {PERIOD_DAYS} days vs the {PERIOD_DAYS} days before, each source within its own "
    "dates (revenue and orders up to the newest order, reviews up to the newest review); none where "
    "a source does not reach back that far. Lifetime value and churn are today's estimates (no change)."
)
st.plotly_chart(activity_figure(_activity(version), currency()), width="stretch")
_what_changed()

st.subheader("What to fix first")
drivers, trends = _drivers(version)
if drivers.empty:
    st.info("No aspect scores yet. Score the reviews on the **Reviews** page to rank what drives ratings.")
    _report_download()
    st.stop()
top = drivers.iloc[0]
if top["rating_gain"] >= 0.005:
    st.markdown(
        f"**{md(top['aspect'])}** costs the most: the average rating would rise by "
        f"{top['rating_gain']:.2f} stars if its complaints were fixed (its negative mentions neutral)."
    )
else:  # no "would rise by -0.00 stars"
    st.markdown("No aspect's complaints measurably lower the rating yet (every gain is below 0.01 stars).")
st.plotly_chart(drivers_figure(drivers), width="stretch")
show_table(drivers, "overview_drivers", width="stretch")
how_computed(
    "Stars gained if fixed = share of reviews with a negative mention × −(least-squares effect of "
    "that mention on the rating, all aspects together). Churn risk saved: the same with the "
    "reviewers' churn probability. Trend 'worse'/'better' only when a two-proportion z-test on the "
    f"negative share (last {PERIOD_DAYS} days up to the newest review vs the {PERIOD_DAYS} before) gives a "
    "Benjamini-Hochberg q <= 0.05 over all aspects ('Show ids and details' above the table "
    "shows p, q and the effects).",
    "Monthly changes: negative share (two-proportion z-test), sentiment and churn risk (Welch "
    "t-tests) against the month before; q = Benjamini-Hochberg over every series × month; months "
    "with fewer than 10 observations are not tested. A month the data covers only in part is "
    "marked partial.",
)
st.plotly_chart(trends_figure(trends), width="stretch")
flagged = trends[trends["flags"] != ""]
if flagged.empty:
    st.caption("No month differs from the month before beyond chance (complaints, sentiment, churn risk).")
else:
    st.markdown(
        "**Months that changed beyond chance** (against the month before):\n"
        + "\n".join(
            f"- {r.month:%Y-%m}{' (partial month)' if r.partial else ''}: {md(r.flags)}"
            for r in flagged.itertuples()
        )
    )
_report_download()
