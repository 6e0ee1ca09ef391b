"""Export a segment run for a CRM or a spreadsheet: one row per unit, CSV, Excel or Parquet.

Each row carries the unit (customer, or review for review-level runs), its
segment id and name, whether HDBSCAN called it an outlier (outliers are always
exported, flagged, whether or not they were assigned to a segment), the churn
probability and the method behind it (the churn model's ``churn_prob`` and its
window when the latest profile run has it, else ``1 - P(alive)`` from BG/NBD,
said per row),
CLV, the customer's most frequent review aspects, the last order date and,
masked unless asked otherwise, name, email and phone.

The files change nothing (:mod:`cx_core.insight.export_files`): ids and codes
are written exactly; CSV quotes every field and guards formula-like free text
with a leading ``'`` (every text column with ``spreadsheet_safe``); Excel stores
strings as text cells; floats are rounded in CSV and Excel, full precision in
Parquet, whose metadata (key ``cx_insight``) records the run and the masking.
With masking on, generated text (segment names, aspects) is masked as well
(:func:`cx_core.ingest.pii_scrub.mask_name`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from cx_core.auth.roles import LOCAL_ACTOR, Actor
from cx_core.ingest.pii import mask_text, mask_value
from cx_core.ingest.pii_scrub import mask_name
from cx_core.insight.export_files import FORMATS, MIME, neutralise_formulas, to_bytes
from cx_core.segments.query import segment_runs
from cx_core.store.audit import record_event
from cx_core.store.db import Workspace
from cx_core.store.runs import latest_id

__all__ = ["FORMATS", "MIME", "neutralise_formulas", "to_bytes"]  # re-exported for callers

PII_KINDS = {"name": "name", "email": "email", "phone": "phone"}
BGNBD_METHOD = "1 - P(alive) (BG/NBD)"
#: generated text columns masked with the personal data (names come from review words)
GENERATED_COLUMNS = ("segment_name", "top_aspects", "review_aspects")
#: review-level runs: the review's own columns (customer runs leave them out)
REVIEW_COLUMNS = ("item", "rating", "review_date", "review_sentiment", "review_aspects", "review_text")
#: characters of the review text in a review-level export
REVIEW_SNIPPET = 300


# ---------------------------------------------------------------------- runs


def segment_choices(ws: Workspace, run_id: str) -> pd.DataFrame:
    """The segments of a run (segment_id, name, size), outliers last."""
    return ws.query_df(
        "SELECT s.segment_id, coalesce(i.name, CASE WHEN s.segment_id < 0 THEN 'Outliers' "
        "ELSE 'Segment ' || s.segment_id END) AS name, count(*) AS size FROM segments s "
        "LEFT JOIN segment_info i ON i.run_id = s.run_id AND i.segment_id = s.segment_id "
        "WHERE s.run_id = ? GROUP BY s.segment_id, i.name ORDER BY s.segment_id < 0, s.segment_id",
        [run_id],
    )


def resolve_run(ws: Workspace, run_id: str | None) -> str:
    """The given run id (checked) or the newest finished segment run."""
    runs = segment_runs(ws)
    if runs.empty:
        raise ValueError(
            "No segment run yet: run segmentation first (Segments page or `python -m cx_core segment`)."
        )
    if run_id is None:
        return str(runs["run_id"].iloc[0])
    if run_id not in set(runs["run_id"]):
        raise ValueError(f"No finished segment run {run_id!r}.")
    return run_id


# ---------------------------------------------------------------------- the frame

_latest = latest_id


def _churn_sql(ws: Workspace) -> tuple[str, str, str]:
    """SQL for churn probability, its method and window, using ``churn_prob`` when profiles have it."""
    cols = {
        r[0]
        for r in ws.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = "
            "'customer_profiles' AND table_schema = current_schema()"
        )
    }
    fallback = f"CASE WHEN p.p_alive IS NOT NULL THEN '{BGNBD_METHOD}' END"
    if "churn_prob" not in cols:
        return "1 - p.p_alive", fallback, "NULL::VARCHAR"
    model = "coalesce(p.churn_method, 'churn model')" if "churn_method" in cols else "'churn model'"
    window = "p.churn_window" if "churn_window" in cols else "NULL::VARCHAR"
    return (
        "coalesce(p.churn_prob, 1 - p.p_alive)",
        f"CASE WHEN p.churn_prob IS NOT NULL THEN {model} ELSE {fallback} END",
        f"CASE WHEN p.churn_prob IS NOT NULL THEN {window} END",
    )


_FRAME_SQL = """
WITH seg AS (
    SELECT unit_kind, unit_id, segment_id, is_outlier, probability FROM segments
    WHERE run_id = $run AND ($segs IS NULL OR list_contains($segs, segment_id))),
review_keys AS (  -- review units are review_id, or dataset_id/review_id when ids repeat
    SELECT key, arg_min(customer_id, did) AS customer_id, arg_min(rid, did) AS review_id,
           min(did) AS dataset_id FROM (
        SELECT review_id AS key, customer_id, review_id AS rid, dataset_id AS did FROM reviews UNION ALL
        SELECT dataset_id || '/' || review_id, customer_id, review_id, dataset_id FROM reviews)
    GROUP BY key),
unit AS (
    SELECT seg.*, CASE WHEN seg.unit_kind = 'review' THEN rk.customer_id
                       ELSE seg.unit_id END AS customer_id,
           coalesce(rk.customer_id, 'review:' || rk.review_id) AS reviewer_key,  -- text recommendations
           rk.dataset_id AS r_dataset, rk.review_id AS r_id
    FROM seg LEFT JOIN review_keys rk ON seg.unit_kind = 'review' AND rk.key = seg.unit_id),
cust AS (
    SELECT customer_id, any_value(name) AS name, any_value(email) AS email,
           any_value(phone) AS phone FROM customers GROUP BY customer_id),
last_order AS (
    SELECT customer_id, max(ts)::DATE AS last_order_date FROM orders
    WHERE customer_id IS NOT NULL AND NOT is_return GROUP BY customer_id),
aspect_counts AS (
    SELECT r.customer_id, a.aspect, count(*) AS n
    FROM review_scores s JOIN reviews r USING (dataset_id, review_id),
         unnest(s.aspects) AS a(aspect)
    WHERE s.run_id = $scores AND r.customer_id IS NOT NULL GROUP BY ALL),
aspects AS (
    SELECT customer_id, string_agg(aspect || ' (' || n || ')', ', ' ORDER BY n DESC, aspect)
           FILTER (WHERE rk <= 3) AS top_aspects
    FROM (SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY n DESC, aspect) AS rk
          FROM aspect_counts) GROUP BY customer_id),
recs AS (  -- the newest recommendation run's top items, best first
    SELECT customer_id, string_agg(coalesce(item_name, item) || ' [' || item || ']', '; ' ORDER BY rank)
           AS recommended_items
    FROM recommendations WHERE run_id = $recs AND rank <= $top_n GROUP BY customer_id)
SELECT u.unit_kind, u.unit_id, u.customer_id, u.segment_id,
       coalesce(i.name, CASE WHEN u.segment_id < 0 THEN 'Outliers'
                             ELSE 'Segment ' || u.segment_id END) AS segment_name,
       u.is_outlier, u.probability AS segment_probability,
       {churn} AS churn_probability, {method} AS churn_method, {window} AS churn_window, p.clv,
       ag.top_aspects, rc.recommended_items, lo.last_order_date, c.name, c.email, c.phone,
       rv.item, rv.rating, rv.ts::DATE AS review_date, rs.sentiment AS review_sentiment,
       array_to_string(rs.aspects, ', ') AS review_aspects, left(rv.text, $snippet) AS review_text
FROM unit u
LEFT JOIN reviews rv ON rv.dataset_id = u.r_dataset AND rv.review_id = u.r_id
LEFT JOIN review_scores rs ON rs.run_id = $scores AND rs.dataset_id = u.r_dataset
                          AND rs.review_id = u.r_id
LEFT JOIN segment_info i ON i.run_id = $run AND i.segment_id = u.segment_id
LEFT JOIN customer_profiles p ON p.run_id = $profiles AND p.customer_id = u.customer_id
LEFT JOIN cust c ON c.customer_id = u.customer_id
LEFT JOIN last_order lo ON lo.customer_id = u.customer_id
LEFT JOIN aspects ag ON ag.customer_id = u.customer_id
LEFT JOIN recs rc ON rc.customer_id = coalesce(u.customer_id, u.reviewer_key)
ORDER BY u.is_outlier, u.segment_id < 0, u.segment_id, u.unit_id
"""


def export_frame(
    ws: Workspace,
    run_id: str | None = None,
    mask_pii: bool = True,
    segments: Sequence[int] | None = None,
    top_items: int = 5,
) -> pd.DataFrame:
    """The export table of a segment run (newest when ``run_id`` is None), one row per unit.

    ``segments`` keeps only those segment ids (-1 = unassigned outliers);
    personal columns (and emails / phone numbers inside review text) are masked unless
    ``mask_pii`` is False.  ``recommended_items`` holds the
    ``top_items`` best items of the newest recommendation run (``python -m cx_core recommend
    --all --save`` or the Recommend page), empty when there is none.  Review-level
    runs get a ``review_id`` column, the reviewer's customer id when known, and the review
    itself: ``item``, ``rating``, ``review_date``, ``review_sentiment``, ``review_aspects`` and
    the first ``REVIEW_SNIPPET`` characters of its text.
    """
    run_id = resolve_run(ws, run_id)
    segs = None if segments is None else sorted({int(s) for s in segments})
    if segs is not None:
        _check_segments(ws, run_id, segs)
    churn, method, window = _churn_sql(ws)
    df = ws.query_df(
        _FRAME_SQL.format(churn=churn, method=method, window=window),
        {
            "run": run_id,
            "segs": segs,
            "profiles": _latest(ws, "profiles"),
            "scores": _latest(ws, "review_scores"),
            "recs": _latest(ws, "recommend"),
            "top_n": int(top_items),
            "snippet": REVIEW_SNIPPET,
        },
    )
    df = _shape(df)
    return mask_frame_pii(df) if mask_pii else df


def _check_segments(ws: Workspace, run_id: str, segs: list[int]) -> None:
    """Refuse segment ids the run does not have, naming the valid ones."""
    valid = set(segment_choices(ws, run_id)["segment_id"].astype(int))
    unknown = [s for s in segs if s not in valid]
    if unknown:
        raise ValueError(f"Segment(s) {unknown} are not in run {run_id}; it has {sorted(valid)}.")


def _shape(df: pd.DataFrame) -> pd.DataFrame:
    """Customer runs: ``customer_id`` first; review runs: ``review_id`` then ``customer_id``,
    with the review's own columns (customer runs drop those)."""
    reviews = (df["unit_kind"] == "review").any()
    df = df.drop(columns=["unit_kind"])
    if reviews:
        return df.rename(columns={"unit_id": "review_id"})
    return df.drop(columns=["unit_id", *REVIEW_COLUMNS])


def mask_frame_pii(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with name, email and phone masked (the same masking as on screen), emails and
    phone numbers inside review text, and emails / 5+ digit groups in generated text."""
    out = df.copy()
    for col, kind in PII_KINDS.items():
        if col in out.columns:
            out[col] = out[col].map(lambda v, k=kind: mask_value(v, k))
    if "review_text" in out.columns:
        out["review_text"] = out["review_text"].map(mask_text)
    for col in GENERATED_COLUMNS:
        if col in out.columns:
            out[col] = out[col].map(mask_name)
    return out


# ---------------------------------------------------------------------- files


def export_metadata(
    ws: Workspace, run_id: str, df: pd.DataFrame, mask_pii: bool, segments: Sequence[int] | None
) -> dict[str, Any]:
    """What a file says about itself: run, filter, masking, churn method, row counts."""
    return {
        "segment_run_id": run_id,
        "segments": None if segments is None else list(segments),
        "personal_data_masked": bool(mask_pii),
        "rows": int(len(df)),
        "outlier_rows": int(df["is_outlier"].sum()),
        "churn_methods": sorted({str(m) for m in df["churn_method"].dropna()}),
        "profiles_run_id": _latest(ws, "profiles"),
        "review_scores_run_id": _latest(ws, "review_scores"),
    }


def export_segments(
    ws: Workspace,
    run_id: str | None = None,
    fmt: str = "csv",
    mask_pii: bool = True,
    path: str | os.PathLike | None = None,
    segments: Sequence[int] | None = None,
    actor: Actor | None = LOCAL_ACTOR,
    spreadsheet_safe: bool = False,
) -> bytes | Path:
    """Export a segment run as CSV, Excel (``xlsx``) or Parquet: the bytes, or the written ``path``.

    See :func:`export_frame` for the columns and :mod:`cx_core.insight.export_files` for what
    each format guarantees; ``spreadsheet_safe`` formula-guards every text column (ids
    included) in CSV and Excel.  The file is written to a temporary name and moved into
    place, so a failed export leaves no half file.
    The export is audited as ``actor`` (None: the caller records it, e.g. on download).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    run_id = resolve_run(ws, run_id)
    df = export_frame(ws, run_id, mask_pii, segments)
    meta = {**export_metadata(ws, run_id, df, mask_pii, segments), "spreadsheet_safe": bool(spreadsheet_safe)}
    data = to_bytes(df, fmt, meta, spreadsheet_safe=spreadsheet_safe)
    if actor is not None:
        record_export(ws, actor, run_id, fmt, len(df), mask_pii, segments)
    if path is None:
        return data
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def record_export(
    ws: Workspace,
    actor: Actor,
    run_id: str,
    fmt: str,
    rows: int,
    mask_pii: bool,
    segments: Sequence[int] | None,
) -> None:
    """Audit an export: run, format, row count, segments and whether personal data was masked."""
    record_event(
        ws,
        actor.name,
        actor.role,
        "export",
        {
            "segment_run_id": run_id,
            "format": fmt,
            "rows": int(rows),
            "masked": bool(mask_pii),
            "segments": None if segments is None else list(segments),
        },
    )


def state_key(ws: Workspace) -> str:
    """A cheap key that changes when anything an export reads changes (for UI caches)."""
    from cx_core.ingest.datasets import dataset_version

    return "|".join([dataset_version(ws), str(_latest(ws, "profiles")), str(_latest(ws, "review_scores"))])


def file_name(run_id: str, fmt: str) -> str:
    """Suggested download name, e.g. ``segments_run_ab12.csv``."""
    return f"segments_{run_id}.{fmt}"
