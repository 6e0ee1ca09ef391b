""" "What changed" alerts: significant moves between the previous and the last period.

Periods are those of :func:`cx_core.insight.overview.periods` (the last ``days`` days up to the newest
order or review vs the ``days`` before). Every alert comes from the pooled two-proportion
z-test of :func:`cx_core.insight.stats.two_proportion_p`; every candidate (both periods hold at least
``MIN_COUNT`` observations) is one test of one family, and an alert is raised only when its
Benjamini-Hochberg q-value over the whole family (:func:`cx_core.insight.stats.fdr_q`) is <= ``ALPHA``:

* ``aspect_worse`` / ``aspect_better`` — the negative share of an aspect's mentions (newest
  scoring run) rose / fell;
* ``segment_grew`` / ``segment_shrank`` — within the newest segment run, a segment's share of
  the active units rose / fell. For customer runs "active" means the customer ordered or
  reviewed in the period; for review runs the units are the reviews written in the period;
* segment changes between the two newest segment runs of the same unit kind
  (:mod:`cx_core.insight.segment_changes`): matched segments that grew / shrank (tested on their share of
  the run's units, same family), new, vanished, split and merged segments (structural, untested).
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from cx_core.customers.profiles import STAGE as PROFILES_STAGE
from cx_core.customers.text_profile import SCORES_STAGE
from cx_core.ingest.pii_scrub import mask_name
from cx_core.insight.alert import Alert, Namer
from cx_core.insight.drivers import load_aspect_reviews, mention_indicators
from cx_core.insight.overview import PERIOD_DAYS, Periods, periods, source_periods
from cx_core.insight.segment_changes import segment_run_alerts
from cx_core.insight.stats import ALPHA, fdr_q, two_proportion_p
from cx_core.store.db import Workspace
from cx_core.store.runs import history, latest_id

#: fewest observations (aspect mentions, active units) each period needs before a change is flagged
MIN_COUNT = 10
SEGMENTS_STAGE = "segments"


def _test(k_after: int, n_after: int, k_before: int, n_before: int) -> tuple[float, float, float] | None:
    """(before share, after share, p) when both periods are big enough to test (a candidate alert)."""
    if n_after < MIN_COUNT or n_before < MIN_COUNT:
        return None
    p = two_proportion_p(k_after, n_after, k_before, n_before)
    return k_before / n_before, k_after / n_after, p


def _windows(ts: pd.Series, p: Periods) -> tuple[pd.Series, pd.Series]:
    """Boolean masks (previous, current) of timestamps ``ts``."""
    t = pd.to_datetime(ts)
    prev = (t > pd.Timestamp(p.prev_start)) & (t <= pd.Timestamp(p.cur_start))
    cur = (t > pd.Timestamp(p.cur_start)) & (t <= pd.Timestamp(p.anchor))
    return prev.fillna(False), cur.fillna(False)


def aspect_alerts(ws: Workspace, p: Periods, name: Namer = str) -> list[Alert]:
    """Candidate alerts: aspects whose negative share of mentions changed (newest scoring run);
    ``name`` renders an aspect's name (e.g. masked)."""
    run = latest_id(ws, SCORES_STAGE)
    if run is None or p.anchor is None:
        return []
    frame = load_aspect_reviews(ws, run, latest_id(ws, PROFILES_STAGE))
    if frame.empty:
        return []
    ment, neg, _ = mention_indicators(frame)
    prev, cur = (m.to_numpy() for m in _windows(frame["ts"], p))
    out = []
    for a in ment.columns:
        m, n = ment[a].to_numpy(), neg[a].to_numpy()
        res = _test(int((n & cur).sum()), int((m & cur).sum()), int((n & prev).sum()), int((m & prev).sum()))
        if res is None or res[0] == res[1]:
            continue
        before, after, pv = res
        worse, a = after > before, name(str(a))
        out.append(
            Alert(
                "aspect_worse" if worse else "aspect_better",
                a,
                f"Complaints about '{a}' {'rose' if worse else 'fell'}: {after:.0%} of its mentions were "
                f"negative in the last {p.days} days vs {before:.0%} in the {p.days} days before.",
                before,
                after,
                pv,
            )
        )
    return out


_IN = "a.ts > ?::TIMESTAMP AND a.ts <= ?::TIMESTAMP"


def _segment_activity(ws: Workspace, run: str, unit_kind: str, p: Periods) -> pd.DataFrame:
    """Per segment of ``run``: name, active units in the previous (``n_prev``) and current period."""
    if unit_kind == "customer":
        acts = (
            "SELECT customer_id AS unit_id, ts FROM orders WHERE customer_id IS NOT NULL "
            "UNION ALL SELECT customer_id, ts FROM reviews WHERE customer_id IS NOT NULL"
        )
    else:
        acts = (
            "SELECT review_id AS unit_id, ts FROM reviews UNION ALL "
            "SELECT dataset_id || '/' || review_id, ts FROM reviews"
        )
    return ws.query_df(
        "SELECT s.segment_id, any_value(i.name) AS name, "
        f"count(DISTINCT CASE WHEN {_IN} THEN s.unit_id END) AS n_prev, "
        f"count(DISTINCT CASE WHEN {_IN} THEN s.unit_id END) AS n_cur "
        f"FROM segments s JOIN ({acts}) a ON a.unit_id = s.unit_id "
        "LEFT JOIN segment_info i ON i.run_id = s.run_id AND i.segment_id = s.segment_id "
        "WHERE s.run_id = ? GROUP BY s.segment_id ORDER BY s.segment_id",
        [p.prev_start, p.cur_start, p.cur_start, p.anchor, run],
    )


def segment_alerts(ws: Workspace, p: Periods, name: Namer = str) -> list[Alert]:
    """Candidate alerts: segments of the newest segment run whose share of the active units moved;
    ``name`` renders a segment's name (e.g. masked)."""
    run = latest_id(ws, SEGMENTS_STAGE)
    if run is None or p.anchor is None:
        return []
    unit_kind = ws.scalar("SELECT any_value(unit_kind) FROM segments WHERE run_id = ?", [run])
    act = _segment_activity(ws, run, unit_kind or "customer", p)
    tot_prev, tot_cur = int(act["n_prev"].sum()), int(act["n_cur"].sum())
    what = "active customers (ordered or reviewed)" if unit_kind == "customer" else "reviews written"
    out = []
    for row in act[act["segment_id"] >= 0].itertuples():
        res = _test(int(row.n_cur), tot_cur, int(row.n_prev), tot_prev)
        if res is None or max(row.n_cur, row.n_prev) < MIN_COUNT or res[0] == res[1]:
            continue
        before, after, pv = res
        grew = after > before
        label = name(row.name) if isinstance(row.name, str) and row.name else f"Segment {row.segment_id}"
        out.append(
            Alert(
                "segment_grew" if grew else "segment_shrank",
                label,
                f"Segment '{label}' {'grew' if grew else 'shrank'}: it holds {after:.0%} of the {what} in "
                f"the last {p.days} days ({int(row.n_cur)} of {tot_cur}) vs {before:.0%} in the {p.days} "
                f"days before ({int(row.n_prev)} of {tot_prev}). 'Grew' means a larger "
                "share of the active units, not a refit of the segments.",
                before,
                after,
                pv,
            )
        )
    return out


def control_fdr(candidates: list[Alert], fdr: bool = True) -> list[Alert]:
    """The candidates that survive Benjamini-Hochberg at ``ALPHA`` over the tested ones (all of
    them one family), with ``q_value`` set and "(p = …, q = …)" appended to the message.

    Untested candidates (NaN p: structural segment changes) are always kept. With ``fdr`` False
    q = p (no correction)."""
    p = [a.p_value for a in candidates]
    q = fdr_q(p) if fdr else [float(v) for v in p]
    out = []
    for a, qv in zip(candidates, q):
        if math.isnan(a.p_value):
            out.append(a)
        elif qv <= ALPHA:
            out.append(
                replace(a, q_value=float(qv), message=f"{a.message} (p = {a.p_value:.2g}, FDR q = {qv:.2g})")
            )
    return out


def what_changed(
    ws: Workspace, days: int = PERIOD_DAYS, fdr: bool = True, mask_pii: bool = False
) -> list[Alert]:
    """Significant changes (BH-controlled) between the last ``days`` days and the ``days`` before
    and between the two newest segment runs; tested ones most certain first, structural ones last.

    With ``mask_pii`` every segment and aspect name in a subject or message went through
    :func:`cx_core.ingest.pii_scrub.mask_name` (the masker of generated names), so a name stored
    with an email or phone number in it never shows.  Empty when nothing is loaded, nothing is
    scored/segmented, or nothing changed significantly.
    """
    p = periods(ws, days)
    name: Namer = (lambda n: str(mask_name(n))) if mask_pii else str
    reviews = source_periods(ws, days)["reviews"]  # aspects come from reviews: their own dates
    found = aspect_alerts(ws, reviews, name) + segment_alerts(ws, p, name) + segment_run_alerts(ws, name)
    alerts = control_fdr(found, fdr)
    return sorted(
        alerts,
        key=lambda a: (math.isnan(a.p_value), 0.0 if math.isnan(a.p_value) else a.p_value, a.kind, a.subject),
    )


def alerts_version(ws: Workspace) -> str:
    """A cheap cache key: the overview version plus the segment run ids."""
    from cx_core.insight.overview import overview_version

    run_ids = sorted(history(ws, SEGMENTS_STAGE)["run_id"])
    return f"{overview_version(ws)}|{','.join(run_ids)}"
