"""Extend a segment run after new rows instead of refitting it (used by ``python -m cx_core run``).

Units (customers, or reviews when no customer ids exist) that are new, or that
got reviews or orders from a dataset loaded after the base run started, are
*moving*; every other unit keeps its segment, outlier flag, probability and map
position.  Moving units are placed next to their nearest fixed units with
:class:`~cx_core.cluster.NeighbourPlacer` (the path ``place_rest`` uses for
customers without reviews): units with review text in the text + behaviour
space of the units with text, the others by behaviour alone.  The result is a
NEW complete run (segment descriptions recomputed), so exports and pages read
one run.  When moving units exceed ``max_share`` of all units, nothing is written
and the caller refits.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from cx_core.cluster import CustomerFeatureBuilder, NeighbourPlacer
from cx_core.progress import Progress
from cx_core.segments.describe import describe
from cx_core.segments.fit import SegmentFit
from cx_core.segments.inputs import SegmentInputs, choose_unit_kind, load_inputs
from cx_core.store.db import Workspace
from cx_core.store.runs import datasets_since, latest_id
from cx_core.store.sql import quote_ident

_CHANGED_SQL = """
SELECT DISTINCT customer_id FROM {table}
WHERE customer_id IS NOT NULL AND list_contains(?, dataset_id)
"""


@dataclass
class Extension:
    """What :func:`extend_segmentation` did: the new run id (None: refit needed) and why."""

    run_id: str | None
    reason: str
    placed: int = 0
    share: float = 0.0


def _base_units(ws: Workspace, run_id: str) -> pd.DataFrame:
    """The base run's units indexed by unit_id."""
    return ws.query_df(
        "SELECT unit_id, segment_id, is_outlier, probability, x, y FROM segments WHERE run_id = ?", [run_id]
    ).set_index("unit_id")


def moving_units(ws: Workspace, inputs: SegmentInputs, base: pd.DataFrame, run_id: str) -> np.ndarray:
    """Mask of units that are new or got rows from a dataset loaded after the base run started."""
    ids = pd.Index(inputs.unit_ids)
    moving = ~ids.isin(base.index)
    if inputs.unit_kind == "customer":
        changed = set()
        for table in ("reviews", "orders"):
            changed |= {
                r[0]
                for r in ws.execute(
                    _CHANGED_SQL.format(table=quote_ident(table)), [datasets_since(ws, run_id)]
                )
            }
        moving |= ids.isin(sorted(changed))
    return np.asarray(moving)


def quick_share(ws: Workspace, unit_kind: str, run_id: str, profiles_run: str | None) -> tuple[int, float]:
    """(moving units, their share) from SQL alone, before any input is read or embedded."""
    new_ds = datasets_since(ws, run_id)
    if unit_kind != "customer":
        n, moving = ws.query_one(
            "SELECT count(*), count(*) FILTER (WHERE list_contains(?, dataset_id)) "
            "FROM reviews WHERE trim(text) <> ''",
            [new_ds],
        )
        return int(moving), int(moving) / max(int(n), 1)
    changed = " UNION ".join(_CHANGED_SQL.format(table=quote_ident(t)) for t in ("reviews", "orders"))
    sql = f"""
    WITH units AS (SELECT customer_id FROM customer_profiles WHERE run_id = ?
                   UNION SELECT customer_id FROM reviews WHERE customer_id IS NOT NULL AND trim(text) <> ''),
    changed AS ({changed}),
    moving AS (SELECT * FROM (SELECT customer_id FROM units
                              EXCEPT SELECT unit_id FROM segments WHERE run_id = ?)
               UNION SELECT * FROM (SELECT customer_id FROM changed
                                    INTERSECT SELECT customer_id FROM units))
    SELECT (SELECT count(*) FROM moving), (SELECT count(*) FROM units)"""
    moving, n = ws.query_one(sql, [profiles_run, new_ds, new_ds, run_id])
    return int(moving), int(moving) / max(int(n), 1)


def _place(Z: np.ndarray, fixed: np.ndarray, rows: np.ndarray, fit: list[np.ndarray]) -> None:
    """Place ``rows`` by their nearest ``fixed`` rows in the space ``Z`` (in place)."""
    placer = NeighbourPlacer().fit(Z[fixed], fit[0][fixed], fit[1][fixed], fit[3][fixed])
    got = placer.place(Z[rows])
    fit[0][rows], fit[1][rows], fit[2][rows], fit[3][rows] = (
        got.labels,
        got.raw_labels,
        got.probability,
        got.xy,
    )


def place_moving(inputs: SegmentInputs, settings: Any, fit: list[np.ndarray], moving: np.ndarray) -> None:
    """Fill the moving rows of ``fit`` (labels, raw labels, probability, xy), in place."""
    fixed = ~moving
    beh = (
        inputs.behaviour
        if settings.behaviour_weight > 0 and inputs.behaviour is not None and inputs.behaviour.shape[1]
        else None
    )
    todo = moving.copy()
    if inputs.text is not None and settings.text_weight > 0:
        has = np.isfinite(inputs.text).all(axis=1)
        if (has & fixed).any() and (has & todo).any():
            rows = np.flatnonzero(has)
            builder = CustomerFeatureBuilder(
                text_weight=settings.text_weight, behaviour_weight=settings.behaviour_weight
            )
            Zt = builder.fit_transform(inputs.text[rows], None if beh is None else beh.iloc[rows])
            Z = np.zeros((inputs.n, Zt.shape[1]), Zt.dtype)
            Z[rows] = Zt
            _place(Z, has & fixed, np.flatnonzero(has & todo), fit)
            todo &= ~has
    if todo.any() and inputs.behaviour is not None and inputs.behaviour.shape[1]:
        Z = CustomerFeatureBuilder().fit_transform(behaviour=inputs.behaviour)
        _place(Z, fixed, np.flatnonzero(todo), fit)
        todo[:] = False
    # units that cannot be placed (no text in a behaviour-free run) stay outliers


def _carry(inputs: SegmentInputs, base: pd.DataFrame, moving: np.ndarray) -> list[np.ndarray]:
    """Unit-length (labels, raw labels, probability, xy) with the fixed units' base values."""
    n = inputs.n
    fit = [np.full(n, -1, np.int64), np.full(n, -1, np.int64), np.zeros(n), np.full((n, 2), np.nan)]
    rows = np.flatnonzero(~moving)
    old = base.loc[[inputs.unit_ids[i] for i in rows]]
    fit[0][rows] = old["segment_id"].to_numpy(np.int64)
    fit[1][rows] = np.where(old["is_outlier"].to_numpy(bool), -1, fit[0][rows])
    fit[2][rows] = old["probability"].to_numpy(float)
    fit[3][rows] = old[["x", "y"]].to_numpy(float)
    return fit


def extend_segmentation(
    ws: Workspace,
    base_run: str,
    settings: Any,
    progress: Progress | None = None,
    encoder: Any = None,
    model: Any = None,
    max_share: float = 0.2,
) -> Extension:
    """A new run = ``base_run``'s assignments + the moving units placed; None run id when the
    moving units exceed ``max_share`` (or the base run does not fit these settings)."""
    from cx_core.ingest.datasets import dataset_version
    from cx_core.segments.query import segment_runs
    from cx_core.segments.run import make_encoder, new_run_id, run_metrics, run_settings, save_run

    step = progress or (lambda f, m: None)
    started, t0 = datetime.now(), time.perf_counter()
    runs = segment_runs(ws).set_index("run_id")
    if base_run not in runs.index:
        raise ValueError(f"No finished segment run {base_run!r} to extend.")
    config = runs.loc[base_run, "config"]
    unit_kind = choose_unit_kind(ws, settings.unit)
    if run_settings(config) != settings or config.get("unit_kind") != unit_kind:
        return Extension(None, "settings or unit kind differ from the last segment run")
    profiles_run = latest_id(ws, "profiles") if unit_kind == "customer" else None
    n_moving, share = quick_share(ws, unit_kind, base_run, profiles_run)
    if share > max_share:
        return Extension(
            None,
            f"{share:.1%} of the {unit_kind}s are new or changed (refit above {max_share:.0%})",
            n_moving,
            share,
        )
    factory = (lambda: encoder) if encoder is not None else (lambda: make_encoder(model))
    inputs = load_inputs(ws, unit_kind, settings.text_weight > 0, factory, step, profiles_run)
    base = _base_units(ws, base_run)
    moving = moving_units(ws, inputs, base, base_run)
    share = float(moving.mean()) if inputs.n else 1.0
    if share > max_share:
        return Extension(
            None,
            f"{share:.1%} of the {unit_kind}s are new or changed (refit above {max_share:.0%})",
            int(moving.sum()),
            share,
        )
    t_inputs = time.perf_counter() - t0
    step(0.6, f"Placing {int(moving.sum()):,} new or changed {unit_kind}s into the existing segments")
    arrays = _carry(inputs, base, moving)
    place_moving(inputs, settings, arrays, moving)
    fit = SegmentFit(
        *arrays,
        strategy=config.get("strategy", "single"),
        timings={"place": round(time.perf_counter() - t0 - t_inputs, 3)},
    )
    step(0.85, "Describing segments")
    info = describe(inputs, fit.labels)
    run_id = new_run_id(settings, dataset_version(ws), started)
    metrics = run_metrics(inputs, fit, info, t_inputs, time.perf_counter() - t0)
    metrics.update(extended_from=base_run, placed=int(moving.sum()), placed_share=round(share, 4))
    new_config = {
        **config,
        "settings": asdict(settings),
        "inputs": inputs.sources,
        "extended_from": base_run,
        "placed": int(moving.sum()),
    }
    save_run(
        ws,
        run_id,
        inputs,
        fit,
        info,
        json.loads(json.dumps(new_config, default=str)),
        metrics,
        started,
        dataset_version(ws),
    )
    step(1.0, f"Extended {base_run}: placed {int(moving.sum()):,} {unit_kind}s")
    return Extension(
        run_id,
        f"extended {base_run}: placed {int(moving.sum()):,} new or changed "
        f"{unit_kind}s ({share:.1%}; refit above {max_share:.0%})",
        int(moving.sum()),
        share,
    )
