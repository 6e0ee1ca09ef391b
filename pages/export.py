"""Export: a segment run as CSV, Excel or Parquet for a CRM, with personal data masked by default."""

from __future__ import annotations

import streamlit as st

from cx_core.ingest.pii_scrub import mask_name
from cx_core.insight.export import (
    BGNBD_METHOD,
    FORMATS,
    MIME,
    export_frame,
    export_segments,
    file_name,
    record_export,
    segment_choices,
    state_key,
)
from cx_core.insight.export_files import FORMAT_LABELS
from cx_core.segments.query import segment_runs
from pages._ui import (
    audit_workspace,
    current_actor,
    get_config,
    get_workspace,
    how_computed,
    mask_pii_toggle,
    md,
    user_errors,
)

st.title("Export")
cfg = get_config()
ws = get_workspace()


@st.cache_data(show_spinner=False, max_entries=4)
def _file(
    run_id: str, fmt: str, mask: bool, segments: tuple[int, ...] | None, data_key: str, safe: bool = False
) -> bytes:
    """The export file's bytes, cached on cheap ids (data_key changes when inputs change)."""
    return export_segments(
        ws, run_id, fmt, mask_pii=mask, segments=segments, spreadsheet_safe=safe, actor=None
    )  # audited on download, below


def _pick_run() -> str | None:
    runs = segment_runs(ws)
    if runs.empty:
        st.info("No segments yet: open **Segments** and run a segmentation, then come back to export it.")
        return None
    labels = {
        r.run_id: f"{r.run_id} · {r.finished_at:%Y-%m-%d %H:%M} · {r.units:,} "
        f"{r.unit_kind}s · {r.segments} segments"
        for r in runs.itertuples()
    }
    return st.selectbox("Segment run", list(labels), format_func=labels.get, key="export_run")


def _pick_segments(run_id: str) -> tuple[int, ...] | None:
    choices = segment_choices(ws, run_id)
    # generated names never show personal data here (the picker comes before the mask switch)
    names = {
        int(r.segment_id): f"{r.segment_id}: {mask_name(r.name)} ({r.size:,})" for r in choices.itertuples()
    }
    picked = st.multiselect(
        "Segments (empty = all, outliers included)", list(names), format_func=names.get, key="export_segments"
    )
    return tuple(sorted(picked)) if picked else None


run_id = _pick_run()
if run_id is None:
    st.stop()
segments = _pick_segments(run_id)
c1, c2 = st.columns([1, 2])
fmt = c1.radio(
    "Format", FORMATS, horizontal=True, key="export_format", format_func=lambda f: FORMAT_LABELS[f]
)
with c2:
    mask = mask_pii_toggle("export_mask")
    safe = st.checkbox(
        "Spreadsheet-safe (guard every text column, ids too)",
        key="export_safe",
        disabled=fmt == "parquet",
        help="Adds an apostrophe before any text cell a spreadsheet would run as a "
        "formula (= + - @), in every column. Off: ids, emails and phones are "
        "written exactly and only free text (names, reviews) is guarded.",
    )
st.caption(
    "Personal data (name, email, phone) is masked unless **Show personal data** is on. "
    "Outliers are exported and flagged (`is_outlier`). Ids are written exactly. CSV: every "
    "field quoted; free-text cells that a spreadsheet would run as a formula start with an "
    "apostrophe. Excel: typed cells, text is never run as a formula. CSV and Excel round "
    "probabilities to 4 and money to 2 decimals; Parquet keeps full precision."
)

with user_errors():
    frame = export_frame(ws, run_id, mask_pii=mask, segments=segments)
    cols = st.columns(4)
    cols[0].metric("Rows", f"{len(frame):,}")
    cols[1].metric("Outliers (flagged)", f"{int(frame['is_outlier'].sum()):,}")
    cols[2].metric("Segments", f"{frame.loc[frame.segment_id >= 0, 'segment_id'].nunique():,}")
    methods = sorted({str(m) for m in frame["churn_method"].dropna()})
    kinds = {"buying pattern" if m == BGNBD_METHOD else "churn model" for m in methods}
    cols[3].metric("Churn from", " + ".join(sorted(kinds)) or "no profiles")
    how_computed(
        "Churn probability: " + md("; ".join(methods) or "no profile run yet") + ". 'Buying pattern' "
        "is 1 − P(alive) of the BG/NBD model; 'churn model' a classifier trained on earlier cutoffs."
    )
    st.caption("Preview: the first rows exactly as the file holds them (column names and precision).")
    st.dataframe(frame.head(cfg.ui.sample_rows), hide_index=True)
    data = _file(run_id, fmt, mask, segments, state_key(ws), bool(safe) and fmt != "parquet")
    st.download_button(
        f"Download {fmt.upper()} ({len(frame):,} rows)",
        data=data,
        file_name=file_name(run_id, fmt),
        mime=MIME[fmt],
        type="primary",
        key="export_download",
        on_click=record_export,
        args=(audit_workspace(), current_actor(), run_id, fmt, len(frame), mask, segments),
    )
