"""Computed explanations kept in the ``explanations`` table, so a second view is instant.

Key: (model_id, text_hash, head, target, settings). ``target`` is the label asked
for, ``""`` meaning "the predicted label"; a prediction-driven explanation is also
stored under its label, so asking for that label later hits the cache too. The
attention view is stored with head and target ``""`` and its own settings key.
A busy workspace (another load writing) only skips the cache write.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from cx_core.config import ExplainConfig
from cx_core.explain.integrated import Explanation, IGSettings, explain_review
from cx_core.explain.rollout import explain_attention, rollout_key
from cx_core.store.db import Workspace, WorkspaceBusy
from cx_core.text.embeddings import text_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cached:
    """An explanation and whether it came from the cache."""

    explanation: Explanation
    hit: bool


def settings_from_config(cfg: ExplainConfig) -> IGSettings:
    """The integrated-gradients settings of the ``explain`` config section."""
    return IGSettings(**asdict(cfg))


def lookup(
    ws: Workspace, model_id: str, thash: str, head: str, target: str, settings: str
) -> Explanation | None:
    """The stored explanation for that key, or None."""
    raw = ws.scalar(
        "SELECT result_json FROM explanations WHERE model_id = ? AND text_hash = ? "
        "AND head = ? AND target = ? AND settings = ?",
        [model_id, thash, head, target, settings],
    )
    return None if raw is None else Explanation.from_dict(json.loads(raw))


def store(ws: Workspace, expl: Explanation, targets: list[str]) -> bool:
    """Write ``expl`` under each requested target key; False when the workspace was busy."""
    payload = json.dumps(expl.to_dict())
    thash = text_hash(expl.text)
    rows = [
        [
            expl.model_id,
            thash,
            expl.head,
            t,
            expl.settings,
            expl.method,
            datetime.now(),
            expl.seconds,
            payload,
        ]
        for t in dict.fromkeys(targets)
    ]
    try:
        with ws.write() as cur:
            cur.executemany("INSERT OR REPLACE INTO explanations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    except WorkspaceBusy:
        log.info("workspace busy: explanation not cached")
        return False
    return True


def cacheable(model: Any) -> bool:
    """Whether the model has a real id (untrained models share the id "untrained")."""
    return str(getattr(model, "model_id_", "") or "") not in ("", "untrained")


def explain_cached(
    ws: Workspace,
    model: Any,
    text: str,
    head: str,
    target: str | None = None,
    settings: IGSettings | None = None,
) -> Cached:
    """:func:`explain_review` through the cache (computed and stored on a miss)."""
    cfg = settings or IGSettings()
    asked = target or ""
    if cacheable(model):
        found = lookup(ws, str(model.model_id_), text_hash(text), head, asked, cfg.key())
        if found is not None:
            return Cached(found, True)
    expl = explain_review(model, text, head, target or None, settings=cfg)
    if cacheable(model):
        store(ws, expl, [asked, expl.target])
    return Cached(expl, False)


def attention_cached(ws: Workspace, model: Any, text: str, max_length: int = 256) -> Cached:
    """:func:`explain_attention` through the cache."""
    key = rollout_key(max_length)
    if cacheable(model):
        found = lookup(ws, str(model.model_id_), text_hash(text), "", "", key)
        if found is not None:
            return Cached(found, True)
    expl = explain_attention(model, text, max_length)
    if cacheable(model):
        store(ws, expl, [""])
    return Cached(expl, False)


def clear(ws: Workspace, model_id: str | None = None) -> int:
    """Delete cached explanations (of one model, or all); returns rows deleted."""
    where, params = ("WHERE model_id = ?", [model_id]) if model_id else ("", [])
    n = ws.scalar(f"SELECT count(*) FROM explanations {where}", params) or 0
    with ws.write() as cur:
        cur.execute(f"DELETE FROM explanations {where}", params)
    return int(n)
