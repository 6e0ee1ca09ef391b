"""Per segment: products that over-index, and a next best action from an editable rule table.

``segment_products`` ranks items by lift: the share of the segment's customers
who bought the item divided by the share of all segmented customers who
bought it, keeping only items with at least ``min_buyers`` buyers in the
segment (tiny counts would otherwise dominate) and a lift above 1.

The next best action comes from a short, ordered list of :class:`Rule` rows
(defaults in :data:`DEFAULT_RULES`, user edits stored as JSON in ``meta``
under ``nba_rules``).  Each rule has conditions on the segment's place in the
CLV x churn quadrant (``high``/``low`` against the median segment, or
``any``) and on its complaints (aspects whose mean review sentiment in the
segment is below 0); the first rule whose conditions all hold wins.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from cx_core.store.db import Workspace

META_KEY = "nba_rules"
LEVELS = ("any", "high", "low")
COMPLAINT_ANY, COMPLAINT_SOME, COMPLAINT_NONE = "any", "*", "none"
FIX_FROM_COMPLAINT = "{complaint}"
_ASPECT = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,39}$")
MAX_RULES = 50


@dataclass(frozen=True)
class Rule:
    """One row of the next-best-action table (conditions, then what to do)."""

    name: str
    clv: str = "any"  # high | low | any (segment mean CLV vs the median segment)
    churn: str = "any"  # high | low | any (segment churn rate vs the median segment)
    complaint: str = "any"  # any | * (some complaint) | none | an aspect name
    action: str = ""
    fix: str = ""  # "" | {complaint} (the segment's top complaint) | an aspect name


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        "Valuable, at risk, delivery complaints",
        "high",
        "high",
        "delivery",
        "Service-recovery offer: apologise and give free express delivery on the next order",
        "delivery",
    ),
    Rule(
        "Valuable, at risk, other complaints",
        "high",
        "high",
        COMPLAINT_SOME,
        "Service-recovery offer and a personal follow-up on the complaint",
        FIX_FROM_COMPLAINT,
    ),
    Rule(
        "Valuable, at risk", "high", "high", "any", "Retention outreach: personal offer before they lapse", ""
    ),
    Rule("Valuable, loyal", "high", "low", "any", "Loyalty / VIP early access to new products", ""),
    Rule(
        "Low value, at risk",
        "low",
        "high",
        "any",
        "Win-back discount on a favourite category",
        FIX_FROM_COMPLAINT,
    ),
    Rule("Low value, loyal", "low", "low", "any", "Cross-sell bundles to grow the basket", ""),
    Rule("Everyone else", "any", "any", "any", "Regular newsletter; watch the segment", ""),
)


# ---------------------------------------------------------------------- rules


def validate_rules(rules: list[Rule]) -> None:
    """Raise ``ValueError`` listing every problem (row numbers from 1) in a rule table."""
    problems: list[str] = []
    if not rules:
        problems.append("the table needs at least one rule")
    if len(rules) > MAX_RULES:
        problems.append(f"at most {MAX_RULES} rules")
    seen: set[str] = set()
    for i, r in enumerate(rules, 1):
        problems += [f"row {i}: {p}" for p in _rule_problems(r, seen)]
    if problems:
        raise ValueError("The rules cannot be saved: " + "; ".join(problems) + ".")


def _rule_problems(r: Rule, seen: set[str]) -> list[str]:
    """What is wrong with one rule (empty when nothing)."""
    out = []
    if not isinstance(r.name, str) or not r.name.strip() or len(r.name) > 80:
        out.append("name must be 1 to 80 characters")
    elif r.name.strip().lower() in seen:
        out.append(f"name {r.name!r} is used twice")
    else:
        seen.add(r.name.strip().lower())
    for col in ("clv", "churn"):
        if getattr(r, col) not in LEVELS:
            out.append(f"{col} must be one of {', '.join(LEVELS)}")
    if r.complaint not in (COMPLAINT_ANY, COMPLAINT_SOME, COMPLAINT_NONE) and not _is_aspect(r.complaint):
        out.append(
            "complaint must be any, * (some complaint), none or an aspect name "
            "(lower-case letters, digits, space, _ or -; up to 40)"
        )
    if not isinstance(r.action, str) or not r.action.strip() or len(r.action) > 300:
        out.append("action must be 1 to 300 characters")
    if r.fix not in ("", FIX_FROM_COMPLAINT) and not _is_aspect(r.fix):
        out.append("fix must be empty, {complaint} or an aspect name")
    return out


def _is_aspect(value: Any) -> bool:
    return isinstance(value, str) and bool(_ASPECT.match(value))


def rules_from_records(records: list[dict]) -> list[Rule]:
    """Rules from plain dicts (JSON or an edited table); missing cells become defaults, text is trimmed."""
    names = [f.name for f in fields(Rule)]
    out = []
    for rec in records:
        clean = {k: _cell(rec.get(k)) for k in names if k in rec}
        out.append(Rule(**{k: v for k, v in clean.items() if v is not None or k == "name"}))
    return out


def _cell(v: Any) -> Any:
    """A table cell as a trimmed string (None for empty / NaN)."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return str(v).strip()


def rules_frame(rules: list[Rule]) -> pd.DataFrame:
    """The rules as a table (one row per rule, in order) for display and editing."""
    return pd.DataFrame([asdict(r) for r in rules], columns=[f.name for f in fields(Rule)])


def load_rules(ws: Workspace) -> list[Rule]:
    """The workspace's rules (the defaults until someone saves a table)."""
    raw = ws.scalar("SELECT value FROM meta WHERE key = ?", [META_KEY])
    if raw is None:
        return list(DEFAULT_RULES)
    try:
        rules = rules_from_records(json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"The saved next-best-action rules are unreadable ({exc}); reset them to the defaults."
        ) from exc
    validate_rules(rules)
    return rules


def save_rules(ws: Workspace, rules: list[Rule]) -> None:
    """Validate and store the rule table (``ValueError`` with every problem when invalid)."""
    rules = list(rules)
    validate_rules(rules)
    payload = json.dumps([asdict(r) for r in rules])
    with ws.write(timeout_s=30) as cur:
        cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [META_KEY, payload])


def reset_rules(ws: Workspace) -> None:
    """Forget the saved rules (the defaults apply again)."""
    with ws.write(timeout_s=30) as cur:
        cur.execute("DELETE FROM meta WHERE key = ?", [META_KEY])


# ---------------------------------------------------------------------- matching


def next_best_action(segment_metrics: dict, rules: list[Rule]) -> tuple[Rule | None, str | None, str | None]:
    """``(rule, action, fix_aspect)`` of the first rule matching the segment; all None if none matches.

    ``segment_metrics`` holds ``clv_level`` and ``churn_level`` (``high``,
    ``low`` or None when unknown) and ``complaints`` (aspects, worst first).
    """
    complaints = list(segment_metrics.get("complaints") or [])
    for rule in rules:
        hit = _complaint_hit(rule.complaint, complaints)
        if (
            hit is not False
            and _level_ok(rule.clv, segment_metrics.get("clv_level"))
            and _level_ok(rule.churn, segment_metrics.get("churn_level"))
        ):
            fix = rule.fix or None
            if fix == FIX_FROM_COMPLAINT:
                fix = hit if isinstance(hit, str) else (complaints[0] if complaints else None)
            return rule, rule.action, fix
    return None, None, None


def _level_ok(want: str, have: str | None) -> bool:
    return want == "any" or want == have


def _complaint_hit(want: str, complaints: list[str]) -> str | bool:
    """False when the condition fails; the matched aspect, or True, when it holds."""
    if want == COMPLAINT_ANY:
        return True
    if want == COMPLAINT_NONE:
        return not complaints
    if want == COMPLAINT_SOME:
        return complaints[0] if complaints else False
    return want if want in complaints else False


def complaint_aspects(top_aspects: list[dict] | None) -> list[str]:
    """Aspects with negative mean sentiment in the segment, most mentioned first."""
    rows = [
        a
        for a in (top_aspects or [])
        if isinstance(a, dict) and a.get("sentiment") is not None and float(a["sentiment"]) < 0
    ]
    rows.sort(key=lambda a: (-float(a.get("share") or 0), str(a.get("aspect"))))
    return [str(a["aspect"]).lower() for a in rows]


def segment_metrics(info: pd.DataFrame) -> pd.DataFrame:
    """Per segment (outliers left out): CLV and churn levels vs the median segment, complaints.

    ``info`` is :func:`cx_core.segments.run.load_segment_info` output.
    """
    df = info[info["segment_id"] >= 0].copy()
    for col, level in (("mean_clv", "clv_level"), ("churn_rate", "churn_level")):
        vals = pd.to_numeric(df[col], errors="coerce")
        med = vals.median()
        df[level] = pd.Series(
            np.where(vals.isna(), None, np.where(vals > med, "high", "low")), index=df.index, dtype=object
        )
    df["complaints"] = df["top_aspects"].map(complaint_aspects)
    return df


def segment_actions(info: pd.DataFrame, rules: list[Rule]) -> pd.DataFrame:
    """Per segment: name, size, CLV, churn, levels, complaints, the rule that fired, action, fix."""
    df = segment_metrics(info)
    picks = [next_best_action(row, rules) for row in df.to_dict("records")]
    for col, values in (
        ("rule", [r.name if r else None for r, _, _ in picks]),
        ("action", [a for _, a, _ in picks]),
        ("fix", [f for _, _, f in picks]),
    ):
        df[col] = pd.Series(values, index=df.index, dtype=object)  # None stays None (not NaN)
    cols = [
        "segment_id",
        "name",
        "size",
        "mean_clv",
        "churn_rate",
        "clv_level",
        "churn_level",
        "complaints",
        "rule",
        "action",
        "fix",
    ]
    return df[cols].reset_index(drop=True)


# ---------------------------------------------------------------------- products


_PRODUCTS_SQL = """
WITH members AS (
    SELECT DISTINCT {member} AS customer_id, s.segment_id
    FROM segments s {join}
    WHERE s.run_id = ? AND {member} IS NOT NULL),
buys AS (
    SELECT DISTINCT customer_id, item FROM orders
    WHERE customer_id IS NOT NULL AND item IS NOT NULL AND NOT is_return
      AND coalesce(quantity, 1) > 0),
names AS (SELECT item, min(item_name) AS item_name FROM orders WHERE item IS NOT NULL GROUP BY item),
n_all AS (SELECT count(DISTINCT customer_id) AS n FROM members),
seg_size AS (SELECT segment_id, count(*) AS n FROM members GROUP BY segment_id),
all_buyers AS (
    SELECT b.item, count(DISTINCT b.customer_id) AS n
    FROM buys b WHERE b.customer_id IN (SELECT customer_id FROM members) GROUP BY b.item),
seg_buyers AS (
    SELECT m.segment_id, b.item, count(*) AS n
    FROM members m JOIN buys b USING (customer_id) GROUP BY m.segment_id, b.item)
SELECT sb.segment_id, sb.item, nm.item_name, sb.n AS seg_buyers, ss.n AS seg_size,
       sb.n / ss.n AS seg_share, ab.n AS all_buyers, ab.n / na.n AS all_share,
       (sb.n / ss.n) / (ab.n / na.n) AS lift
FROM seg_buyers sb JOIN seg_size ss USING (segment_id) JOIN all_buyers ab USING (item)
     LEFT JOIN names nm USING (item), n_all na
WHERE sb.segment_id >= 0 AND sb.n >= ? AND (sb.n / ss.n) > (ab.n / na.n)
"""


def segment_products(ws: Workspace, run_id: str, top: int = 10, min_buyers: int = 3) -> pd.DataFrame:
    """Items that over-index in each segment of a run, best lift first (``top`` per segment).

    Columns: segment_id, rank, item, item_name, seg_buyers, seg_size,
    seg_share, all_buyers, all_share, lift.  The population is the run's
    customers (for a review-level run, the customers who wrote its reviews);
    outliers count in the population but get no list of their own.
    """
    if top < 1 or min_buyers < 1:
        raise ValueError("top and the minimum number of buyers must be at least 1")
    kind = ws.scalar("SELECT any_value(unit_kind) FROM segments WHERE run_id = ?", [run_id])
    if kind is None:
        raise ValueError(f"No segment run {run_id!r} in this workspace.")
    if kind == "review":
        member, join = (
            "r.customer_id",
            ("JOIN reviews r ON (r.review_id = s.unit_id OR r.dataset_id || '/' || r.review_id = s.unit_id)"),
        )
    else:
        member, join = "s.unit_id", ""
    df = ws.query_df(_PRODUCTS_SQL.format(member=member, join=join), [run_id, int(min_buyers)])
    df = df.sort_values(
        ["segment_id", "lift", "seg_buyers", "item"], ascending=[True, False, False, True], kind="stable"
    )
    df = df.groupby("segment_id", sort=True).head(top).copy()
    df.insert(1, "rank", df.groupby("segment_id").cumcount() + 1)
    return df.reset_index(drop=True)
