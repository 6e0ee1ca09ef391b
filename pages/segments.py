"""Segments: customers grouped by what they write and what they do, with a profile per segment."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from cx_core.ingest.datasets import dataset_version
from cx_core.ingest.pii import mask_text
from cx_core.ingest.pii_scrub import mask_generated_frame
from cx_core.plots.format import fmt_value
from cx_core.plots.segments import (
    aspect_heatmap_figure,
    aspect_timeline_figure,
    clv_churn_figure,
    segment_map_figure,
    sentiment_timeline_figure,
    size_value_figure,
    unit_noun,
)
from cx_core.segments.query import load_units, segment_aspects, segment_runs, segment_timeline
from cx_core.segments.run import PRESETS, SegmentSettings, load_segment_info, make_encoder, run_settings
from pages._run import missing_inputs, run_stage, running_notice
from pages._segment_reasons import reasons_section
from pages._ui import currency, get_config, get_workspace, how_computed, mask_pii_toggle, md

UNITS = ("auto", "customer", "review")
STRATEGY = {
    "place": "customers with reviews were segmented on review text + behaviour; customers "
    "without reviews were placed by behaviour next to their most similar reviewers",
    "single": "every unit was segmented in one pass",
}

st.title("Segments")
running_notice("segments", "profiles")
st.caption(
    "Customers are grouped by what they write and what they buy (or reviews are grouped by "
    "what they say, when reviews carry no customer id); each segment is named by its "
    "distinctive words, the aspects its reviews mention most and its buying habits."
)
HOW = (
    "Each customer (mean MiniLM embedding of their reviews + behaviour from orders), or each "
    "review when reviews carry no customer id, becomes a vector; vectors are reduced with a "
    "seeded UMAP and clustered with HDBSCAN; distinctive words (c-TF-IDF), dominant aspects "
    "and behaviour traits name each segment. Units HDBSCAN cannot place in any dense group "
    "are outliers (segment −1)."
)
#: above this outlier share the page offers the one-click fixes
OUTLIER_FIX_AT = 0.30
cfg = get_config()
ws = get_workspace()


@st.cache_resource(show_spinner=False)
def _encoder():
    """One text encoder per app process (weights load once, only if texts need embedding)."""
    return make_encoder(get_config().model)


@st.cache_data(show_spinner=False)
def _info(run_id: str) -> pd.DataFrame:
    return load_segment_info(ws, run_id)


@st.cache_data(show_spinner=False)
def _units(run_id: str) -> pd.DataFrame:
    return load_units(ws, run_id)


@st.cache_data(show_spinner=False)
def _timeline(run_id: str) -> pd.DataFrame:
    return segment_timeline(ws, run_id)


@st.cache_data(show_spinner=False)
def _aspects(run_id: str, by_month: bool) -> pd.DataFrame:
    return segment_aspects(ws, run_id, by_month)


def _run(settings: SegmentSettings) -> None:
    """Run a segmentation with a progress bar, then show the new run."""
    if run_stage("segments", settings, encoder=_encoder()) is not None:
        st.session_state.pop("seg_run_pick", None)
        st.rerun()


def _settings_form(base: SegmentSettings) -> None:
    with st.form("segment_settings"):
        c1, c2, c3 = st.columns(3)
        preset = c1.selectbox(
            "Preset",
            PRESETS,
            index=PRESETS.index(base.preset),
            help="fast: fewer UMAP epochs (large data); default: more epochs",
        )
        size = c2.number_input(
            "Minimum segment size (0 = auto)",
            0,
            10_000_000,
            int(base.min_size),
            help="auto: 0.5 % of the units, ≥ 10",
        )
        unit = c3.selectbox(
            "Segment",
            UNITS,
            index=UNITS.index(base.unit),
            format_func={
                "auto": "auto (customers when ids exist)",
                "customer": "customers",
                "review": "reviews",
            }.get,
        )
        c4, c5, c6 = st.columns(3)
        tw = c4.slider("Text weight", 0.0, 3.0, float(base.text_weight), 0.25)
        bw = c5.slider("Behaviour weight", 0.0, 3.0, float(base.behaviour_weight), 0.25)
        seed = c6.number_input("Seed", 0, 2**31 - 1, int(base.seed))
        assign = st.radio(
            "Outliers",
            ("keep", "assign"),
            horizontal=True,
            index=int(base.assign_outliers),
            format_func={"keep": "Keep as outliers", "assign": "Assign to the nearest segment"}.get,
        )
        if st.form_submit_button("Run segmentation", type="primary"):
            _run(
                SegmentSettings(
                    preset=preset,
                    min_size=int(size),
                    unit=unit,
                    text_weight=float(tw),
                    behaviour_weight=float(bw),
                    seed=int(seed),
                    assign_outliers=assign == "assign",
                )
            )


def _fmt(v: object, kind: str = "num") -> str:
    """A number for a card: percent, money (with the currency) or plain; an em dash when missing."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if kind == "money":
        return fmt_value("clv", v, currency())
    return {"pct": f"{v:.0%}", "signed": f"{v:+.2f}"}.get(kind, f"{v:,}")


def _aspect_text(aspects: list[dict]) -> str:
    return ", ".join(f"{md(a['aspect'])} ({a['share']:.0%})" for a in aspects[:4]) or "—"


def _card(row: pd.Series, mask: bool) -> None:
    with st.container(border=True):
        st.markdown(f"**{row.segment_id if row.segment_id >= 0 else '–'} · {md(row['name'])}**")
        c = st.columns(3)
        c[0].metric("Size", f"{row['size']:,} ({_fmt(row.share, 'pct')})")  # no delta chip: not a change
        c[1].metric("Revenue share", _fmt(row.revenue_share, "pct"))
        c[2].metric("Avg lifetime value", _fmt(row.mean_clv, "money"))
        c = st.columns(3)
        c[0].metric("Likely to churn", _fmt(row.churn_rate, "pct"))
        c[1].metric(
            "Sentiment",
            _fmt(row.mean_sentiment, "signed"),
            help="Mean review sentiment score (−1 … +1); — until reviews are scored",
        )
        st.markdown("Top aspects: " + _aspect_text(row.top_aspects))
        if row.traits:
            st.markdown("Traits: " + ", ".join(md(t["label"]) for t in row.traits))
        if row.keywords:
            st.caption("Words: " + md(", ".join(row.keywords[:8])))
        for rep in row.representatives:
            text = mask_text(rep["text"]) if mask else rep["text"]
            st.markdown("> " + md(text))


def _compare(info: pd.DataFrame, noun: str) -> None:
    st.subheader("Compare two segments")
    ids = info["segment_id"].tolist()
    names = dict(zip(ids, info["name"]))
    c1, c2 = st.columns(2)
    a = c1.selectbox("Segment A", ids, index=0, format_func=lambda s: f"{s} · {names[s]}", key="seg_cmp_a")
    b = c2.selectbox(
        "Segment B",
        ids,
        index=min(1, len(ids) - 1),
        format_func=lambda s: f"{s} · {names[s]}",
        key="seg_cmp_b",
    )
    rows = info.set_index("segment_id").loc[[a, b]]
    table = pd.DataFrame(
        {
            "name": rows["name"],
            noun: rows["size"].map("{:,}".format),
            "share": rows["share"].map(lambda v: _fmt(v, "pct")),
            "revenue share": rows["revenue_share"].map(lambda v: _fmt(v, "pct")),
            "avg lifetime value": rows["mean_clv"].map(lambda v: _fmt(v, "money")),
            "likely to churn": rows["churn_rate"].map(lambda v: _fmt(v, "pct")),
            "sentiment": rows["mean_sentiment"].map(lambda v: _fmt(v, "signed")),
            "top aspects": rows["top_aspects"].map(lambda t: ", ".join(x["aspect"] for x in t[:4])),
            "traits": rows["traits"].map(lambda t: ", ".join(x["label"] for x in t)),
            "keywords": rows["keywords"].map(lambda k: ", ".join(k[:6])),
        }
    ).T
    table.columns = ["A", "B"]
    st.dataframe(table, width="stretch")


def _outliers(run: pd.Series, settings: SegmentSettings) -> None:
    share = run.metrics.get("noise_share", 0.0)
    noun = unit_noun(run.metrics.get("unit_kind"))
    if settings.assign_outliers:
        st.caption(
            f"{share:.1%} of {noun} fit no segment at first and were assigned to their nearest "
            "segment; exports still flag them as outliers."
        )
    elif share > OUTLIER_FIX_AT:
        _outlier_fixes(run, settings, share, noun)
    elif share > 0:
        st.info(
            f"{share:.1%} of {noun} fit no segment (outliers, segment −1). They are kept "
            "and exported as outliers unless you assign them."
        )
        if st.button("Assign outliers to nearest segment", key="seg_assign"):
            _run(settings.replace(assign_outliers=True))


def smaller_min_size(current: int) -> int:
    """The next smaller minimum segment size to offer: half, at least 2."""
    return max(2, int(current) // 2)


def _outlier_fixes(run: pd.Series, settings: SegmentSettings, share: float, noun: str) -> None:
    """A large outlier share comes with the two one-click fixes, each saying what it does."""
    size = int(run.config.get("min_segment_size") or settings.min_size or 0)
    st.warning(
        f"{share:.0%} of {noun} fit no segment, so most of the page describes a minority. "
        "Two ways to fix it, each reruns the segmentation:"
    )
    c1, c2 = st.columns(2)
    c1.caption(
        f"Keeps the segments as they are and puts every outlier into the segment it is closest to "
        f"(exports still flag them), so every one of your {noun} gets a segment."
    )
    if c1.button(f"Assign every {noun.rstrip('s')} to its nearest segment", key="seg_fix_assign"):
        _run(settings.replace(assign_outliers=True))
    if size >= 3:
        smaller = smaller_min_size(size)
        c2.caption(
            f"Lets groups of {smaller:,} or more {noun} count as a segment (now {size:,}): more, "
            "smaller segments, and fewer outliers."
        )
        if c2.button(f"Allow smaller segments (min size {size:,} → {smaller:,})", key="seg_fix_smaller"):
            _run(settings.replace(min_size=smaller))


def _trends(run_id: str, info: pd.DataFrame) -> None:
    timeline = _timeline(run_id)
    if not timeline.empty:
        value = "mean_sentiment" if timeline["mean_sentiment"].notna().any() else "mean_rating"
        st.plotly_chart(sentiment_timeline_figure(timeline, info, value), width="stretch")
    by_month = _aspects(run_id, True)
    if not by_month.empty:
        names = dict(zip(info["segment_id"], info["name"]))
        seg = st.selectbox(
            "Aspects over time for segment",
            info["segment_id"].tolist(),
            format_func=lambda s: f"{s} · {names[s]}",
            key="seg_trend",
        )
        st.plotly_chart(aspect_timeline_figure(by_month, seg, names[seg]), width="stretch")


runs = segment_runs(ws)
missing = missing_inputs("segments")
if missing:  # no button without its inputs: say what is missing instead
    st.info(md(missing[0].upper() + missing[1:] + "."))
else:
    with st.expander("Settings and run", expanded=runs.empty):
        _settings_form(SegmentSettings.from_config(cfg))
if runs.empty and missing:
    st.stop()
if runs.empty:
    st.info(
        "No segments yet: press **Run segmentation** (about a minute on the demo store; "
        "review texts are embedded once and cached)."
    )
    st.stop()

labels = {
    r.run_id: f"{r.finished_at:%Y-%m-%d %H:%M} · {r.metrics.get('n_segments', '?')} segments "
    f"of {r.metrics.get('n', 0):,} {r.metrics.get('unit_kind', '')}s"
    for r in runs.itertuples()
}
run_id = st.selectbox("Run", list(labels), format_func=labels.get, key="seg_run_pick")
run = runs.set_index("run_id").loc[run_id]
settings = run_settings(run.config)
if run.dataset_key != dataset_version(ws):
    st.warning("Data changed since this run: run the segmentation again to include it.")
how_computed(
    HOW,
    f"Run {md(run_id)}: {md(STRATEGY.get(run.config.get('strategy'), ''))}. Preset "
    f"{md(settings.preset)}, seed {settings.seed}, minimum size "
    f"{md(run.config.get('min_segment_size'))}. Churn: "
    f"{md(run.metrics.get('churn_source') or 'no orders')}.",
)
info = _info(run_id)
m = run.metrics
cols = st.columns(4)
cols[0].metric(unit_noun(m.get("unit_kind")).capitalize(), f"{m.get('n', 0):,}")
cols[1].metric("Segments", m.get("n_segments", 0))
cols[2].metric("Outlier share", f"{m.get('noise_share', 0):.1%}")
cols[3].metric("With review text", f"{m.get('text_coverage', 0):.0%}")
_outliers(run, settings)

mask = mask_pii_toggle("segments_mask")
units = _units(run_id)
if mask:
    units = units.assign(snippet=units["snippet"].map(lambda t: mask_text(t) if t else t))
info, units = (mask_generated_frame(info), mask_generated_frame(units)) if mask else (info, units)
st.plotly_chart(segment_map_figure(units, m.get("unit_kind")), width="stretch")
c1, c2 = st.columns(2)
c1.plotly_chart(size_value_figure(info, m.get("unit_kind")), width="stretch")
if info["mean_clv"].notna().any():
    c2.plotly_chart(clv_churn_figure(info), width="stretch")
    c2.caption(
        "Dotted lines: size-weighted means. Top left: valuable and loyal (protect); "
        "top right: valuable and at risk (win back)."
    )

st.subheader("Segment profiles")
grid = st.columns(2)
for i, (_, row) in enumerate(info.iterrows()):
    with grid[i % 2]:
        _card(row, mask)
reasons_section(ws, run_id, info, mask)
if len(info) > 1:
    _compare(info, unit_noun(m.get("unit_kind")))
aspects = _aspects(run_id, False)
if not aspects.empty:
    st.plotly_chart(aspect_heatmap_figure(aspects, info), width="stretch")
_trends(run_id, info)
