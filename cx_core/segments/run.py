"""Segmentation runs: settings in, persisted segments out (tables ``segments``, ``segment_info``, ``runs``).

``run_segmentation(ws, settings, progress)`` reads the units and their inputs
(:mod:`cx_core.segments.inputs`), fits (:mod:`cx_core.segments.fit`), describes
(:mod:`cx_core.segments.describe`) and writes everything in one transaction
under a new run id.  The same data and settings give the same segments with
the same ids.  The read functions below are what pages, CLI and exports use.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from cx_core.config import Config, SegmentsConfig
from cx_core.progress import Progress
from cx_core.segments.describe import describe
from cx_core.segments.fit import SegmentFit, fit_segments
from cx_core.segments.inputs import SegmentInputs, choose_unit_kind, load_inputs, parse_json
from cx_core.store.db import Workspace
from cx_core.store.runs import latest_id, record_run
from cx_core.text.embeddings import make_encoder

STAGE = "segments"
PRESETS = ("fast", "default")


@dataclass(frozen=True)
class SegmentSettings(SegmentsConfig):
    """What one segmentation run uses: the ``segments`` config section (one set of fields and
    defaults) plus the run-only choice of unit; stored with every run (``config_json``)."""

    unit: str = "auto"  # auto | customer | review

    @classmethod
    def from_config(cls, cfg: Config) -> "SegmentSettings":
        """Defaults from the ``segments`` section of a :class:`~cx_core.config.Config`."""
        return cls(**dataclasses.asdict(cfg.segments))

    @classmethod
    def from_json(cls, data: dict) -> "SegmentSettings":
        """Settings stored with a run (unknown keys ignored; runs before 2026-12 said
        ``min_segment_size``)."""
        data = {"min_size": data.get("min_segment_size", 0), **data}
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def replace(self, **changes: Any) -> "SegmentSettings":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def validate(self) -> None:
        """Raise ``ValueError`` with a plain message for impossible settings."""
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {PRESETS}, got {self.preset!r}")
        if self.min_size < 0 or self.min_size == 1:
            raise ValueError("minimum segment size must be 0 (auto) or at least 2")
        if self.text_weight < 0 or self.behaviour_weight < 0:
            raise ValueError("weights must be 0 or more")
        if self.text_weight == 0 and self.behaviour_weight == 0:
            raise ValueError("at least one of text weight and behaviour weight must be above 0")
        if self.unit not in ("auto", "customer", "review"):
            raise ValueError("unit must be auto, customer or review")


def run_segmentation(
    ws: Workspace,
    settings: SegmentSettings = SegmentSettings(),
    progress: Progress | None = None,
    encoder: Any = None,
    model: Any = None,
) -> str:
    """Segment customers (or reviews) and persist the run; returns its run id.

    ``encoder`` is anything :func:`cx_core.text.embeddings.embed_texts_cached`
    accepts; by default a :class:`~cx_core.text.encoder.TextEncoder` built from
    ``model`` (a :class:`~cx_core.config.ModelConfig`), loaded only when some
    review text is not in the embedding cache yet.  Customer behaviour comes from the newest
    profile run; this function never computes profiles (the segments stage declares
    ``needs=("profiles", ...)`` and :func:`cx_core.pipeline.graph.run_with_needs` runs them first).
    """
    from cx_core.ingest.datasets import dataset_version

    step = progress or (lambda f, m: None)
    settings.validate()
    started, t0 = datetime.now(), time.perf_counter()
    unit_kind = choose_unit_kind(ws, settings.unit)
    profiles_run = latest_id(ws, "profiles")
    factory = (lambda: encoder) if encoder is not None else (lambda: make_encoder(model))
    inputs = load_inputs(ws, unit_kind, settings.text_weight > 0, factory, step, profiles_run)
    t_inputs = time.perf_counter() - t0
    fit = fit_segments(inputs, settings, step)
    step(0.85, "Describing segments")
    info = describe(inputs, fit.labels)
    step(0.95, "Saving")
    run_id = new_run_id(settings, dataset_version(ws), started)
    metrics = run_metrics(inputs, fit, info, t_inputs, time.perf_counter() - t0)
    config = {
        "settings": asdict(settings),
        "unit_kind": unit_kind,
        "strategy": fit.strategy,
        "inputs": inputs.sources,
        **fit.config,
    }
    save_run(ws, run_id, inputs, fit, info, config, metrics, started, dataset_version(ws))
    step(1.0, f"Done: {int((info['segment_id'] >= 0).sum())} segments")
    return run_id


def new_run_id(settings: SegmentSettings, data_key: str, started: datetime) -> str:
    """A new run id (time-ordered, with a short hash of data and settings)."""
    h = hashlib.sha256(f"{data_key}|{json.dumps(asdict(settings), sort_keys=True)}".encode())
    return f"seg_{started:%Y%m%d%H%M%S%f}_{h.hexdigest()[:6]}"


def run_metrics(
    inputs: SegmentInputs, fit: SegmentFit, info: pd.DataFrame, t_inputs: float, total: float
) -> dict[str, Any]:
    """What the run reports: counts, outlier shares, text coverage, timings."""
    has_text = np.zeros(inputs.n, bool) if inputs.text is None else np.isfinite(inputs.text).all(axis=1)
    return {
        "n": inputs.n,
        "unit_kind": inputs.unit_kind,
        "n_segments": int((info["segment_id"] >= 0).sum()),
        "outlier_share": round(float(np.mean(fit.labels < 0)), 4),
        "noise_share": round(float(np.mean(fit.raw_labels < 0)), 4),
        "text_coverage": round(float(has_text.mean()), 4),
        "strategy": fit.strategy,
        "churn_source": inputs.sources.get("churn_source"),
        "timings_s": {"inputs": round(t_inputs, 3), **fit.timings, "total": round(total, 3)},
    }


def save_run(
    ws: Workspace,
    run_id: str,
    inputs: SegmentInputs,
    fit: SegmentFit,
    info: pd.DataFrame,
    config: dict,
    metrics: dict,
    started: datetime,
    data_key: str,
) -> None:
    """Write units, segment descriptions and the run record in one transaction."""
    units = pd.DataFrame(
        {
            "run_id": run_id,
            "unit_kind": inputs.unit_kind,
            "unit_id": inputs.unit_ids,
            "segment_id": fit.labels.astype(np.int32),
            "is_outlier": fit.raw_labels < 0,
            "probability": fit.probability,
            "x": fit.xy[:, 0],
            "y": fit.xy[:, 1],
        }
    )
    seg_info = info.assign(run_id=run_id)
    with ws.write(timeout_s=30) as cur:
        for name, frame in (("segments", units), ("segment_info", seg_info)):
            cur.register("_cx_frame", frame)
            cur.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _cx_frame")
            cur.unregister("_cx_frame")
        record_run(cur, run_id, STAGE, data_key, config, started, metrics)


# ---------------------------------------------------------------------- reading


def run_settings(config: dict) -> SegmentSettings:
    """The settings a run was made with."""
    return SegmentSettings.from_json(config.get("settings", {}))


def load_segment_info(ws: Workspace, run_id: str) -> pd.DataFrame:
    """segment_info of a run (outliers row last) with parsed JSON columns added."""
    df = ws.query_df(
        "SELECT * EXCLUDE (run_id) FROM segment_info WHERE run_id = ? ORDER BY segment_id < 0, segment_id",
        [run_id],
    )
    df["keywords"] = df["keywords_json"].map(lambda s: [w for w, _ in parse_json(s, [])])
    df["top_aspects"] = df["top_aspects_json"].map(lambda s: parse_json(s, []))
    df["representatives"] = df["representative_json"].map(lambda s: parse_json(s, []))
    df["traits"] = df["traits_json"].map(lambda s: parse_json(s, []))
    return df
