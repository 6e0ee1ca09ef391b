"""Recommend page, Segment mode: over-indexing products and the next best action, with editable rules."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cx_core.recommend.store import segment_recommended_items
from cx_core.segments.actions import (
    LEVELS,
    load_rules,
    reset_rules,
    rules_frame,
    rules_from_records,
    save_rules,
    segment_actions,
    segment_products,
)
from cx_core.segments.query import segment_runs
from cx_core.segments.run import load_segment_info
from cx_core.store.db import Workspace
from pages._ui import md, show_table, user_errors


def _rules_editor(ws: Workspace) -> list | None:
    """The rule table, editable; returns the rules in force (None when the saved ones are unreadable)."""
    try:
        rules = load_rules(ws)
    except ValueError as exc:
        st.error(md(str(exc)))
        if st.button("Reset rules to the defaults", key="nba_reset"):
            reset_rules(ws)
            st.rerun()
        return None
    st.caption(
        "First matching rule wins. clv/churn: high, low or any (against the median segment); "
        "complaint: any, * (some complaint), none or an aspect; fix: empty, {complaint} or an aspect."
    )
    level = st.column_config.SelectboxColumn(options=list(LEVELS), required=True)
    edited = st.data_editor(
        rules_frame(rules),
        num_rows="dynamic",
        hide_index=True,
        key="nba_rules",
        column_config={"clv": level, "churn": level},
        width="stretch",
    )
    c1, c2 = st.columns(2)
    if c1.button("Save rules", key="nba_save", type="primary"):
        with user_errors():
            save_rules(ws, rules_from_records(pd.DataFrame(edited).to_dict("records")))
            st.success("Rules saved.")
            return load_rules(ws)
    if c2.button("Reset to defaults", key="nba_defaults"):
        reset_rules(ws)
        st.rerun()
    return rules


def render(ws: Workspace) -> None:
    """Pick a segment run and a segment; show its action (with the rule that fired) and products."""
    runs = segment_runs(ws)
    if runs.empty:
        st.info("No segments yet: run a segmentation on the **Segments** page first.")
        return
    run_id = st.selectbox("Segment run", runs["run_id"].tolist(), key="recommend_seg_run")
    with st.expander("Next-best-action rules (editable)"):
        rules = _rules_editor(ws)
    if rules is None:
        return
    with user_errors():
        acts = segment_actions(load_segment_info(ws, run_id), rules)
        if acts.empty:
            st.info("This run has no segments (only outliers).")
            return
        names = dict(zip(acts["segment_id"], acts["name"]))
        seg = st.selectbox(
            "Segment", list(names), format_func=lambda s: f"{s}: {names[s]}", key="recommend_segment"
        )
        _show_segment(ws, run_id, acts.set_index("segment_id").loc[seg], int(seg))


def _show_segment(ws: Workspace, run_id: str, row: pd.Series, seg: int) -> None:
    """The action card and the over-indexing products of one segment."""
    st.subheader(f"Segment {seg}: {md(row['name'])}")
    complaints = ", ".join(md(c) for c in row["complaints"]) or "none"
    st.markdown(
        f"CLV **{md(row['clv_level'] or 'unknown')}**, churn risk "
        f"**{md(row['churn_level'] or 'unknown')}** (against the median segment); "
        f"complaints: {complaints}"
    )
    if pd.isna(row["rule"]):
        st.warning("No rule matches this segment: add a catch-all rule (clv any, churn any).")
    else:
        fix = f" Fix: **{md(row['fix'])}**." if isinstance(row["fix"], str) else ""
        st.markdown(f"**Suggested action:** {md(row['action'])}.{fix} (rule: {md(row['rule'])})")
    products = segment_products(ws, run_id, top=10)
    mine = products[products["segment_id"] == seg].drop(columns="segment_id")
    st.markdown(
        "**Products that over-index** (lift = share of the segment's buyers / share of all "
        "customers; at least 3 buyers in the segment)"
    )
    if mine.empty:
        st.info("No product has 3 or more buyers here and a lift above 1.")
    else:
        show_table(mine, "nba_products", text_first=False)
    recs = segment_recommended_items(ws, run_id, seg)
    st.markdown(
        "**Most recommended to its members** (newest recommendation run, with the most frequent reason)"
    )
    if recs.empty:
        st.info("No recommendations for these members yet: compute them in *Customer* mode.")
    else:
        show_table(recs, "nba_recs", text_first=False)
