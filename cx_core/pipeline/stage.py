"""The Stage seam: one protocol that the app, the CLI, the batch and job runners all call.

A stage declares its ``name``, the stages it ``needs`` upstream, the ``settings``
it takes from the config, a ``fingerprint`` of its inputs, and ``run``. The
batch runs stages in topological order over ``needs``
(:mod:`cx_core.pipeline.graph`) and skips a stage whose fingerprint did not
change since the last batch; a page or a CLI command runs one stage (and, with
:func:`cx_core.pipeline.graph.run_with_needs`, the upstream stages that never ran).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable

from cx_core.config import Config
from cx_core.progress import Progress
from cx_core.store.db import Workspace
from cx_core.store.runs import run_exists


@dataclass(frozen=True)
class InputFile:
    """One file to load: path, table kind and field -> column overrides."""

    path: str
    kind: str
    overrides: dict[str, str | None] = field(default_factory=dict)


@dataclass
class RunOptions:
    """How stages run: demo or files to ingest, export folder, forced refits, retraining."""

    demo: bool = False
    files: list[InputFile] = field(default_factory=list)
    export_dir: str | None = None
    skip: Sequence[str] = ()
    retrain: bool = False
    force: bool = False
    incremental: bool = False  # batch: keep the model, carry scores, extend segment/theme runs


@dataclass
class StageResult:
    """What one stage did: ``done`` or ``skipped`` (with the reason), its key and run id."""

    status: str
    key: str = ""
    run_id: str | None = None
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # JSON-ready facts for summaries
    output: Any = None  # the feature's own result object for the caller (never serialised)

    @property
    def done(self) -> bool:
        """Whether the stage did work (as opposed to skipping)."""
        return self.status == "done"


@dataclass
class StageContext:
    """What every stage reads: workspace, config, options, the last batch's keys, a lazy encoder.

    ``settings`` holds explicit per-stage settings objects (a page's or a CLI's choices) that
    replace ``stage.settings(cfg)``; ``encoder`` may be injected (tests, a page's cached model).
    """

    ws: Workspace
    cfg: Config
    opts: RunOptions = field(default_factory=RunOptions)
    previous: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    encoder_override: Any = None
    _encoder: Any = None

    @property
    def encoder(self) -> Any:
        """The text encoder (injected, or built from ``cfg.model``; weights load lazily)."""
        if self.encoder_override is not None:
            return self.encoder_override
        if self._encoder is None:
            from cx_core.text.encoder import TextEncoder

            self._encoder = TextEncoder.from_config(self.cfg.model)
        return self._encoder

    def settings_for(self, stage: "Stage") -> Any:
        """The stage's settings: the explicit ones given for it, else from the config."""
        return self.settings.get(stage.name) or stage.settings(self.cfg)

    def data_key(self) -> str:
        """Fingerprint of the loaded datasets."""
        from cx_core.ingest.datasets import dataset_version

        return dataset_version(self.ws)

    def unchanged(self, stage: str, key: str) -> bool:
        """Whether the last batch ran ``stage`` on the same key and its run still exists."""
        prev = self.previous.get(stage) or {}
        if self.opts.force or not key or prev.get("key") != key:
            return False
        run_id = prev.get("run_id")
        return run_id is None or run_exists(self.ws, run_id)

    def count(self, table: str) -> int:
        """Rows in a data table (customers, orders, reviews)."""
        from cx_core.ingest.datasets import count_rows

        return count_rows(self.ws, table)


@runtime_checkable
class Stage(Protocol):
    """A unit of work the app, the CLI, the batch and a job runner call the same way."""

    name: str
    needs: tuple[str, ...]

    def settings(self, cfg: Config) -> Any:
        """This stage's settings object built from the config."""

    def missing(self, ctx: StageContext) -> str | None:
        """Why the stage cannot run on this workspace (no reviews, say), or None."""

    def fingerprint(self, ctx: StageContext) -> str:
        """A stable hash of everything the stage reads; equal keys mean nothing to redo."""

    def run(self, ctx: StageContext, progress: Progress) -> StageResult:
        """Do the work (unconditionally) and return what was done."""


def fingerprint(*parts: Any) -> str:
    """A short stable hash of the parts (JSON-encoded)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_stage(
    stage: Stage, ctx: StageContext, progress: Progress, check_unchanged: bool = True
) -> StageResult:
    """Run ``stage`` unless its inputs are missing or (batch) its fingerprint is unchanged."""
    why = stage.missing(ctx)
    if why:
        return StageResult("skipped", reason=why)
    key = stage.fingerprint(ctx)
    if check_unchanged and ctx.unchanged(stage.name, key):
        prev = ctx.previous.get(stage.name) or {}
        return StageResult("skipped", key, prev.get("run_id"), "inputs and settings unchanged")
    result = stage.run(ctx, progress)
    result.key = result.key or key
    return result
