"""Row checks of a load, as SQL conditions with a plain reason each (first match wins).

They run set-based inside DuckDB over the staged rows; every refused row is
counted under its reason and reported with its row number.
"""

from __future__ import annotations

from typing import Mapping

from cx_core.ingest.mapping import fields_for
from cx_core.ingest.options import LoadOptions

# control characters: refused in ids; removed from text (tab, line feed and carriage return stay)
ID_CONTROL = "[\\x00-\\x1f\\x7f]"

BASE_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (("customer_id IS NULL", "missing customer id"),),
    "orders": (
        ("ts IS NULL", "order date missing or not parsed"),
        ("amount IS NULL", "amount missing or not a number"),
    ),
    "reviews": (("text IS NULL", "empty review text"),),
}


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def reject_rules(kind: str, mapping: Mapping[str, str | None], opts: LoadOptions) -> list[tuple[str, str]]:
    """``(condition, reason)`` pairs for a kind, in the order they are applied."""
    rules = list(BASE_RULES[kind])
    lo, hi = opts.window
    for spec in fields_for(kind):
        mapped = bool(mapping.get(spec.name)) or (kind == "orders" and spec.name == "amount")
        if not mapped:
            continue
        f, label = spec.name, spec.label.lower()
        if spec.vtype == "id":
            rules.append(
                (
                    f"(_idctl AND regexp_matches({f}, {_lit(ID_CONTROL)}))",
                    f"{label} contains control characters (such as NUL)",
                )
            )
            rules.append(
                (
                    f"length({f}) > {int(opts.max_id_length)}",
                    f"{label} longer than {int(opts.max_id_length)} characters",
                )
            )
        elif spec.vtype == "num":
            rules.append((f"NOT isfinite({f})", f"{label} is NaN or infinite"))
        elif spec.vtype == "ts":
            rules.append(
                (
                    f"({f} < TIMESTAMP {_lit(lo.isoformat())} OR "
                    f"{f} >= TIMESTAMP {_lit(hi.isoformat())} + INTERVAL 1 DAY)",
                    f"{label} outside {lo.isoformat()} … {hi.isoformat()}",
                )
            )
    return rules


def reason_case(kind: str, mapping: Mapping[str, str | None], opts: LoadOptions) -> str:
    """One SQL CASE giving each row its first failed rule's reason (NULL: accepted)."""
    whens = " ".join(f"WHEN {cond} THEN {_lit(why)}" for cond, why in reject_rules(kind, mapping, opts))
    return f"CASE {whens} END"
