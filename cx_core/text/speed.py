"""This machine's measured encoding speed, kept from earlier runs, for honest time estimates.

Every batch of new texts the embedding cache encodes records its rate (texts per second) under the
encoder's model id and device in the ``meta`` table; an estimate is the number of texts still to
embed divided by the newest rate ("about 18 min on this CPU for 9,998 texts").
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cx_core.store.db import Workspace

#: batches smaller than this say little about throughput (model warm-up dominates)
MIN_TEXTS = 64


def _key(model_id: str) -> str:
    return f"encode_rate:{model_id}"


def record_rate(ws: Workspace, model_id: str, device: str, texts: int, seconds: float) -> None:
    """Remember ``texts / seconds`` for this encoder and device (small batches are ignored)."""
    if texts < MIN_TEXTS or seconds <= 0:
        return
    payload = json.dumps({"rate": texts / seconds, "device": device, "texts": texts})
    with ws.write(timeout_s=5) as cur:
        cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [_key(model_id), payload])


@dataclass(frozen=True)
class Estimate:
    """Texts still to embed, the measured rate (None: never measured here) and the time it implies."""

    texts: int
    rate: float | None
    device: str | None

    @property
    def seconds(self) -> float | None:
        """Estimated seconds, or None without a measured rate."""
        return None if not self.rate else self.texts / self.rate

    def describe(self) -> str:
        """A sentence for the page: what is left and how long it should take on this machine."""
        if self.texts == 0:
            return "Every review text is already embedded."
        if self.seconds is None:
            return (
                f"{self.texts:,} review texts to embed; the first run measures this machine's speed "
                "(it is shown during the run)."
            )
        secs = self.seconds
        took = f"about {secs / 60:.0f} min" if secs >= 90 else f"about {max(secs, 1):.0f} s"
        return (
            f"{took} on this {(self.device or 'cpu').upper()} to embed {self.texts:,} review texts "
            f"(measured {self.rate:,.1f} texts/s)."
        )


def estimate(ws: Workspace, model_id: str) -> Estimate:
    """Texts of ``reviews`` not embedded for ``model_id`` yet, with the rate measured before."""
    todo = int(
        ws.scalar(
            "SELECT count(DISTINCT text_hash) FROM reviews r WHERE NOT EXISTS (SELECT 1 "
            "FROM embeddings e WHERE e.text_hash = r.text_hash AND e.model_id = ?)",
            [model_id],
        )
    )
    raw = ws.scalar("SELECT value FROM meta WHERE key = ?", [_key(model_id)])
    if raw is None:
        return Estimate(todo, None, None)
    data = json.loads(raw)
    return Estimate(todo, float(data["rate"]), str(data.get("device") or "cpu"))
