"""Segment changes between the two newest segment runs of the same unit kind.

The newest run's segments are matched one-to-one to the previous run's by member overlap:
Jaccard ``|A ∩ B| / |A ∪ B|`` of their unit ids, maximised over all pairs with the Hungarian
algorithm (``scipy.optimize.linear_sum_assignment``); a pair counts as a match only when its
Jaccard is at least ``MIN_JACCARD``. Outliers (segment id < 0) are never matched. Then:

* a matched segment whose size changed by at least ``MIN_REL_CHANGE`` is a candidate
  ``segment_run_grew`` / ``segment_run_shrank`` alert, tested with the two-proportion z-test on its
  share of the run's units (outliers included) and FDR-controlled with the other alerts;
* an unmatched new segment is ``segment_merged`` when two or more previous segments each supply at
  least ``PART_SHARE`` of its members, ``segment_split`` (split off) when one does, else
  ``segment_new``;
* an unmatched previous segment is ``segment_split`` when two or more new segments each take at
  least ``PART_SHARE`` of its members, ``segment_merged`` (into a matched one) when one does, else
  ``segment_gone``.

Structural alerts carry no test (p = NaN). Messages hold the raw (user-editable) segment names:
whoever renders them escapes them (``md`` on pages, ``html_escape`` in the report).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cx_core.insight.alert import Alert, Namer
from cx_core.insight.stats import two_proportion_p
from cx_core.segments.query import segment_runs
from cx_core.store.db import Workspace

MIN_JACCARD = 0.3
PART_SHARE = 0.25
MIN_REL_CHANGE = 0.10
MIN_UNITS = 10


def run_pair(ws: Workspace) -> tuple[str, str, str] | None:
    """(newest run, previous run of the same unit kind, unit kind), or None without two such runs."""
    runs = segment_runs(ws).sort_values(["finished_at", "run_id"], ascending=False)
    if len(runs) < 2:
        return None
    newest, kind = runs["run_id"].iloc[0], runs["unit_kind"].iloc[0]
    older = runs[(runs["unit_kind"] == kind) & (runs["run_id"] != newest)]
    return None if older.empty else (newest, older["run_id"].iloc[0], kind)


def load_overlap(ws: Workspace, prev_run: str, new_run: str) -> tuple[pd.DataFrame, dict, dict, int, int]:
    """(overlap counts ``prev, new, n``, prev sizes, new sizes, units in prev run, units in new run)."""
    overlap = ws.query_df(
        "SELECT a.segment_id AS prev, b.segment_id AS new, count(*) AS n FROM segments a "
        "JOIN segments b ON a.unit_id = b.unit_id WHERE a.run_id = ? AND b.run_id = ? "
        "AND a.segment_id >= 0 AND b.segment_id >= 0 GROUP BY ALL",
        [prev_run, new_run],
    )
    sizes = {}
    totals = {}
    for run in (prev_run, new_run):
        df = ws.query_df(
            "SELECT segment_id, count(*) AS n FROM segments WHERE run_id = ? GROUP BY ALL", [run]
        )
        sizes[run] = {int(r.segment_id): int(r.n) for r in df.itertuples() if r.segment_id >= 0}
        totals[run] = int(df["n"].sum())
    return overlap, sizes[prev_run], sizes[new_run], totals[prev_run], totals[new_run]


def jaccard_matrix(overlap: pd.DataFrame, prev_sizes: dict, new_sizes: dict) -> np.ndarray:
    """Jaccard of every (previous, new) segment pair, rows/cols in sorted id order."""
    rows, cols = sorted(prev_sizes), sorted(new_sizes)
    ri, ci = {s: i for i, s in enumerate(rows)}, {s: j for j, s in enumerate(cols)}
    jac = np.zeros((len(rows), len(cols)))
    for r in overlap.itertuples():
        if r.prev in ri and r.new in ci:
            union = prev_sizes[r.prev] + new_sizes[r.new] - r.n
            jac[ri[r.prev], ci[r.new]] = r.n / union if union else 0.0
    return jac


def match_segments(
    overlap: pd.DataFrame, prev_sizes: dict, new_sizes: dict, min_jaccard: float = MIN_JACCARD
) -> list[tuple[int, int, float]]:
    """One-to-one ``(prev id, new id, jaccard)`` matches maximising total Jaccard (Hungarian),
    keeping only pairs with Jaccard >= ``min_jaccard``."""
    from scipy.optimize import linear_sum_assignment

    if not prev_sizes or not new_sizes:
        return []
    jac = jaccard_matrix(overlap, prev_sizes, new_sizes)
    rows, cols = linear_sum_assignment(jac, maximize=True)
    prev_ids, new_ids = sorted(prev_sizes), sorted(new_sizes)
    return [
        (prev_ids[i], new_ids[j], float(jac[i, j])) for i, j in zip(rows, cols) if jac[i, j] >= min_jaccard
    ]


def _name(names: dict, seg: int) -> str:
    value = names.get(seg)
    return value if isinstance(value, str) and value.strip() else f"Segment {seg}"


def _parts(overlap: pd.DataFrame, key: str, seg: int, size: int, other: str) -> list[tuple[int, float]]:
    """Segments on the ``other`` side holding >= PART_SHARE of segment ``seg``'s members, biggest first."""
    rows = overlap[overlap[key] == seg]
    parts = [
        (int(r[other]), r["n"] / size) for _, r in rows.iterrows() if size and r["n"] / size >= PART_SHARE
    ]
    return sorted(parts, key=lambda t: -t[1])


def _list(parts: list[tuple[int, float]], names: dict) -> str:
    return ", ".join(f"'{_name(names, s)}' ({share:.0%})" for s, share in parts)


def change_alerts(
    overlap: pd.DataFrame, prev: dict, new: dict, names: tuple[dict, dict], totals: tuple[int, int], unit: str
) -> list[Alert]:
    """Candidate and structural alerts for one pair of runs (see the module docstring).

    ``prev``/``new`` map segment id -> size, ``names`` the two runs' id -> name, ``totals`` the
    units in each run (outliers included), ``unit`` the plural noun ("customers", "reviews").
    """
    n_prev, n_new = totals
    matches = match_segments(overlap, prev, new)
    out = [a for m in matches if (a := _size_alert(m, prev, new, names, totals, unit)) is not None]
    matched_prev, matched_new = {m[0] for m in matches}, {m[1] for m in matches}
    for seg in sorted(set(new) - matched_new):
        out.append(
            _new_alert(seg, _parts(overlap, "new", seg, new[seg], "prev"), prev, new, names, n_new, unit)
        )
    for seg in sorted(set(prev) - matched_prev):
        out.append(
            _gone_alert(seg, _parts(overlap, "prev", seg, prev[seg], "new"), prev, names, n_prev, unit)
        )
    return out


def _new_alert(
    seg: int,
    src: list[tuple[int, float]],
    prev: dict,
    new: dict,
    names: tuple[dict, dict],
    n_new: int,
    unit: str,
) -> Alert:
    """An unmatched new segment: merged from several, split off from one, or new."""
    name, share = _name(names[1], seg), new[seg] / max(n_new, 1)
    if len(src) >= 2:
        return Alert(
            "segment_merged",
            name,
            f"Segment '{name}' ({new[seg]:,} {unit}) merges previous segments "
            f"{_list(src, names[0])} (share of its members from each).",
            math.nan,
            share,
            math.nan,
        )
    if src:
        old = src[0][0]
        part = src[0][1] * new[seg] / prev[old]
        return Alert(
            "segment_split",
            name,
            f"Segment '{name}' ({new[seg]:,} {unit}) split off from previous "
            f"segment '{_name(names[0], old)}' ({part:.0%} of its members).",
            math.nan,
            share,
            math.nan,
        )
    return Alert(
        "segment_new",
        name,
        f"New segment '{name}' ({new[seg]:,} {unit}): no previous segment holds a large part of its members.",
        math.nan,
        share,
        math.nan,
    )


def _gone_alert(
    seg: int, dst: list[tuple[int, float]], prev: dict, names: tuple[dict, dict], n_prev: int, unit: str
) -> Alert:
    """An unmatched previous segment: split into several, merged into one, or gone."""
    name, share = _name(names[0], seg), prev[seg] / max(n_prev, 1)
    if len(dst) >= 2:
        return Alert(
            "segment_split",
            name,
            f"Previous segment '{name}' ({prev[seg]:,} {unit}) split into "
            f"{_list(dst, names[1])} (share of its members in each).",
            share,
            math.nan,
            math.nan,
        )
    if dst:
        return Alert(
            "segment_merged",
            name,
            f"Previous segment '{name}' ({prev[seg]:,} {unit}) merged into "
            f"{_list(dst, names[1])} of its members.",
            share,
            math.nan,
            math.nan,
        )
    return Alert(
        "segment_gone",
        name,
        f"Previous segment '{name}' ({prev[seg]:,} {unit}) no longer exists: "
        "its members are spread over other segments or outliers.",
        share,
        math.nan,
        math.nan,
    )


def _size_alert(
    match: tuple[int, int, float],
    prev: dict,
    new: dict,
    names: tuple[dict, dict],
    totals: tuple[int, int],
    unit: str,
) -> Alert | None:
    """A grew/shrank candidate for a matched pair whose size moved by >= MIN_REL_CHANGE (else None)."""
    p_id, n_id, jac = match
    before, after = prev[p_id], new[n_id]
    if max(before, after) < MIN_UNITS or before == 0 or abs(after - before) / before < MIN_REL_CHANGE:
        return None
    name, old = _name(names[1], n_id), _name(names[0], p_id)
    was = "" if old == name else f", where it was '{old}'"
    grew = after > before
    pv = two_proportion_p(after, totals[1], before, totals[0])
    return Alert(
        "segment_run_grew" if grew else "segment_run_shrank",
        name,
        f"Segment '{name}' {'grew' if grew else 'shrank'} from {before:,} to {after:,} {unit} "
        f"({(after - before) / before:+.0%}) since the previous segment run{was} "
        f"({jac:.0%} member overlap); share of all {unit} {before / max(totals[0], 1):.1%} -> "
        f"{after / max(totals[1], 1):.1%}.",
        before / max(totals[0], 1),
        after / max(totals[1], 1),
        pv,
    )


def segment_run_alerts(ws: Workspace, name: Namer = str) -> list[Alert]:
    """Candidate alerts comparing the newest segment run with the previous one of the same unit kind
    (empty with fewer than two such runs); ``name`` renders each stored name (e.g. masked)."""
    pair = run_pair(ws)
    if pair is None:
        return []
    new_run, prev_run, kind = pair
    overlap, prev, new, n_prev, n_new = load_overlap(ws, prev_run, new_run)
    names = []
    for run in (prev_run, new_run):
        df = ws.query_df("SELECT segment_id, name FROM segment_info WHERE run_id = ?", [run])
        names.append(
            {int(k): name(v) if isinstance(v, str) else v for k, v in zip(df["segment_id"], df["name"])}
        )
    unit = "customers" if kind == "customer" else "reviews"
    return change_alerts(overlap, prev, new, (names[0], names[1]), (n_prev, n_new), unit)
