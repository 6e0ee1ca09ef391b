"""Order lines of a scale profile run: the column mapping, the per-batch day range and partitions."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

#: canonical order columns a partition carries (``is_return`` optional)
ORDER_COLUMNS = ("customer_id", "order_id", "ts", "amount", "is_return")
PART = "_part"


def order_mapping(
    columns: Iterable[str], overrides: dict[str, str | None] | None = None
) -> dict[str, str | None]:
    """Source column of each of :data:`ORDER_COLUMNS`: a column of that very name, else the ingest
    mapping suggestion, then ``overrides``. Raises ValueError naming what is missing."""
    from cx_core.ingest.mapping import suggest_mapping

    cols = list(columns)
    found = suggest_mapping("orders", cols)
    mapping = {f: (f if f in cols else found.get(f)) for f in ORDER_COLUMNS}
    for field, column in (overrides or {}).items():
        if field not in mapping:
            raise ValueError(f"--map {field}=...: only {', '.join(ORDER_COLUMNS)} are used by a profile run.")
        if column is not None and column not in cols:
            raise ValueError(f"--map {field}={column}: no such column (columns: {', '.join(cols)}).")
        mapping[field] = column
    missing = [f for f in ("customer_id", "ts", "amount") if not mapping[f]]
    if missing:
        raise ValueError(
            f"No column for {', '.join(missing)} among {', '.join(cols)}: map it with --map FIELD=COLUMN."
        )
    return mapping


def normalise_orders(batch: pd.DataFrame, mapping: dict[str, str | None]) -> pd.DataFrame:
    """A batch of source rows with the canonical column names (lines without a customer dropped,
    as the workspace's ``orders`` rows the local profile stage reads)."""
    out = pd.DataFrame({f: batch[c] for f, c in mapping.items() if c})
    out["ts"] = pd.to_datetime(out["ts"])
    return out[out["customer_id"].notna()].reset_index(drop=True)


def add_partition(batch: pd.DataFrame, mapping: dict[str, str | None], partitions: int) -> pd.DataFrame:
    """Canonical rows plus ``_part``: a stable hash of the customer id modulo ``partitions`` (the
    same on every node and run), so all lines of a customer meet in one partition."""
    out = normalise_orders(batch, mapping)
    ids = customer_id_strings(out["customer_id"])
    out["customer_id"] = ids
    out[PART] = (pd.util.hash_pandas_object(ids, index=False).to_numpy() % np.uint64(partitions)).astype(
        np.int64
    )
    return out


def customer_id_strings(ids: pd.Series) -> pd.Series:
    """Customer ids as the RFM code keys them (``prepare_lines``): strings, whole-number floats
    without ``.0``; done before hashing so a float-read id lands with its integer twin."""
    if pd.api.types.is_float_dtype(ids) and bool((ids == np.round(ids)).all()):
        ids = ids.astype(np.int64)
    return ids.astype(str)


def day_range(batch: pd.DataFrame, mapping: dict[str, str | None], cutoff_day: int | None) -> pd.DataFrame:
    """One row per batch: the first line and first purchase day, the last line day (both up to ``cutoff_day``
    when given) and the last line day of all, as the RFM code counts days (NaN when none)."""
    from cx_core.customers.rfm import prepare_lines

    rows = normalise_orders(batch, mapping)
    out = {
        "first_day": np.nan,
        "first_purchase_day": np.nan,
        "last_day": np.nan,
        "last_day_all": np.nan,
        "lines": 0,
    }
    if len(rows):
        lines = prepare_lines(rows)
        keep = lines.day <= cutoff_day if cutoff_day is not None else np.ones(lines.day.size, bool)
        out["lines"] = int(lines.day.size)
        if lines.day.size:
            out["last_day_all"] = float(lines.day.max())
        if keep.any():
            out["first_day"] = float(lines.day[keep].min())
            out["last_day"] = float(lines.day[keep].max())
        if (keep & lines.purchase).any():
            out["first_purchase_day"] = float(lines.day[keep & lines.purchase].min())
    return pd.DataFrame([out])
