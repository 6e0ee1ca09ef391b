"""Segments at scale: fit the segment pipeline on a seeded sample, place every other unit.

The sample is chosen by a seeded hash of the unit id (:func:`sample_keys`): the same units whatever
the partitioning or block order. The fit is the single-machine one (``fit_segments`` on a
behaviour-only :class:`~cx_core.segments.inputs.SegmentInputs`), the description ``describe``; the
other units are placed by :class:`~cx_core.cluster.NeighbourPlacer` on the behaviour scaled as the
sample was (a :class:`~cx_core.cluster.CustomerFeatureBuilder` fitted on the sample), partition by
partition (:func:`place_batch`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from cx_core.progress import Progress, no_progress

KEY = "_sample_key"
#: output columns of a segments shard
UNIT_COLUMNS = ("unit_id", "segment_id", "is_outlier", "probability", "x", "y", "placed")
#: columns of the segment inputs' review frame (empty: a scale run segments on behaviour only)
REVIEW_COLUMNS = (
    "dataset_id",
    "review_id",
    "customer_id",
    "ts",
    "title",
    "text",
    "rating",
    "text_hash",
    "sentiment_score",
    "aspects",
    "aspect_sentiment_json",
    "risk",
    "unit",
    "vec_row",
    "doc",
)


def feature_columns(columns: Sequence[str], wanted: Sequence[str] | None = None) -> list[str]:
    """Behaviour columns to segment on: ``wanted``, else the profile behaviour columns present."""
    from cx_core.segments.inputs import MIX_COLUMNS, PROFILE_BEHAVIOUR

    cols = list(columns)
    if wanted:
        missing = [c for c in wanted if c not in cols]
        if missing:
            raise ValueError(f"No column {', '.join(missing)} in the inputs (columns: {', '.join(cols)}).")
        return list(wanted)
    found = [c for c in (*PROFILE_BEHAVIOUR, *MIX_COLUMNS) if c in cols]
    if not found:
        raise ValueError(
            f"No behaviour column among {', '.join(cols)}: give --features or profile shards as input."
        )
    return found


def sample_keys(ids: pd.Series, seed: int) -> np.ndarray:
    """A uniform [0, 1) key per unit id from a seeded hash (the sample: the smallest keys)."""
    h = pd.util.hash_pandas_object(ids.astype(str), index=False, hash_key=f"{seed % 10**16:016d}")
    return (h.to_numpy() >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def keyed_batch(
    batch: pd.DataFrame, id_column: str, features: list[str], seed: int, keep_below: float
) -> pd.DataFrame:
    """Unit id, features and sample key of the rows whose key is below ``keep_below``."""
    keys = sample_keys(batch[id_column], seed)
    rows = batch.loc[keys < keep_below, [id_column, *features]].rename(columns={id_column: "unit_id"})
    rows["unit_id"] = rows["unit_id"].astype(str)
    return rows.assign(**{KEY: keys[keys < keep_below]}).reset_index(drop=True)


def take_sample(candidates: pd.DataFrame, size: int) -> pd.DataFrame:
    """The ``size`` units with the smallest keys, sorted by unit id (the fit's unit order)."""
    picked = candidates.nsmallest(size, KEY, keep="all").iloc[:size]
    return picked.drop(columns=[KEY]).sort_values("unit_id", ignore_index=True)


def value_frame(frame: pd.DataFrame) -> pd.DataFrame | None:
    """Revenue, CLV and churn per unit when the inputs have them (describe's value columns)."""
    if "revenue" not in frame or "clv" not in frame:
        return None
    if "churn_prob" in frame and frame["churn_prob"].notna().any():
        churn = frame["churn_prob"].astype(float)
    elif "p_alive" in frame:
        churn = 1.0 - frame["p_alive"].astype(float)
    else:
        churn = pd.Series(np.nan, index=frame.index)
    return pd.DataFrame(
        {"revenue": frame["revenue"].astype(float), "clv": frame["clv"].astype(float), "churn": churn}
    ).reset_index(drop=True)


def sample_inputs(sample: pd.DataFrame, features: list[str], value: pd.DataFrame | None) -> Any:
    """Behaviour-only segment inputs of the sample (customer units, no review text)."""
    from cx_core.segments.inputs import SegmentInputs

    return SegmentInputs(
        unit_kind="customer",
        unit_ids=sample["unit_id"].tolist(),
        text=None,
        behaviour=sample[features].astype(float).reset_index(drop=True),
        signals=None,
        reviews=pd.DataFrame(columns=list(REVIEW_COLUMNS)),
        review_vectors=None,
        value=value,
        sources={"unit_kind": "customer", "text": False, "behaviour": True, "behaviour_columns": features},
    )


@dataclass
class SampleFit:
    """The sample's segments, its description and what places the other units."""

    inputs: Any
    fit: Any
    info: pd.DataFrame
    placer: Any
    builder: Any
    features: list[str]
    lookup: dict[str, int] = field(default_factory=dict)  # unit id -> sample row


def fit_sample(
    sample: pd.DataFrame, features: list[str], settings: Any, progress: Progress = no_progress
) -> SampleFit:
    """Fit segments on the sample as a local run would (``fit_segments``, ``describe``) and fit
    the placer on the sample's scaled behaviour."""
    from cx_core.cluster import CustomerFeatureBuilder, NeighbourPlacer
    from cx_core.segments.describe import describe
    from cx_core.segments.fit import fit_segments

    inputs = sample_inputs(sample, features, value_frame(sample))
    fit = fit_segments(inputs, settings, progress)
    info = describe(inputs, fit.labels)
    builder = CustomerFeatureBuilder().fit(behaviour=inputs.behaviour)
    placer = NeighbourPlacer().fit(
        builder.transform(behaviour=inputs.behaviour), fit.labels, fit.raw_labels, fit.xy
    )
    lookup = {u: i for i, u in enumerate(inputs.unit_ids)}
    return SampleFit(inputs, fit, info, placer, builder, features, lookup)


def sample_rows(sf: SampleFit, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The fitted results of sample rows ``rows``."""
    fit = sf.fit
    return {
        "segment_id": fit.labels[rows],
        "is_outlier": fit.raw_labels[rows] < 0,
        "probability": fit.probability[rows],
        "x": fit.xy[rows, 0],
        "y": fit.xy[rows, 1],
    }


def place_batch(batch: pd.DataFrame, sf: SampleFit, id_column: str) -> pd.DataFrame:
    """Segment of every unit of a batch: the fitted one for sample units, else placed."""
    ids = batch[id_column].astype(str).to_numpy()
    pos = np.array([sf.lookup.get(u, -1) for u in ids], dtype=np.int64)
    out = pd.DataFrame({"unit_id": ids})
    cols = {k: np.empty(len(ids), v.dtype) for k, v in sample_rows(sf, np.array([0])).items()}
    fitted = pos >= 0
    for k, v in sample_rows(sf, pos[fitted]).items():
        cols[k][fitted] = v
    rest = np.flatnonzero(~fitted)
    if rest.size:
        beh = batch[sf.features].iloc[rest].astype(float).reset_index(drop=True)
        got = sf.placer.place(sf.builder.transform(behaviour=beh))
        cols["segment_id"][rest], cols["probability"][rest] = got.labels, got.probability
        cols["is_outlier"][rest] = got.raw_labels < 0
        cols["x"][rest], cols["y"][rest] = got.xy[:, 0], got.xy[:, 1]
    for k in ("segment_id", "is_outlier", "probability", "x", "y"):
        out[k] = cols[k]
    out["segment_id"] = out["segment_id"].astype(np.int32)
    out["placed"] = ~fitted
    return out
