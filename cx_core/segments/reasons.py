"""Why each segment feels the way it does: the words that pushed its reviews' sentiment, summed.

For a seeded sample of each segment's reviews (``reviews_per_segment``), plus
the segment's representative reviews, integrated gradients
(:func:`cx_core.explain.batch.explain_batch`) attribute the review model's
``logit(positive) - logit(negative)`` to the words. One pass gives both
directions: a positive score pushed the review towards *positive* (green on the
page), a negative score towards *negative* (red). Per segment, word scores are summed over the sampled
reviews and divided by the sample size (the average push per review), so a
word ranks high when it is strong, frequent, or both; a word must occur in at
least ``min_reviews`` sampled reviews. Punctuation, HTML entities, special
tokens, English function words (negations kept), emails, phone numbers and 5+
digit runs never enter the lists.

The representatives' explanations are stored in the ``explanations`` cache
(their per-word highlighting on the Segments page); the word lists in
``segment_reasons``; the run in ``runs`` (stage ``segment_reasons``) with the
measured seconds per review, which the page uses to estimate the next run.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Iterable

import pandas as pd

from cx_core.config import Config
from cx_core.explain.batch import BatchSettings, explain_batch
from cx_core.explain.cache import store as store_explanation
from cx_core.explain.integrated import Explanation
from cx_core.explain.words import content_words
from cx_core.ingest.datasets import dataset_version
from cx_core.ingest.pii_scrub import DIGIT_GROUP_RE, EMAILISH_RE, is_pii_word
from cx_core.progress import Progress, no_progress
from cx_core.segments.query import review_sample
from cx_core.store import runs
from cx_core.store.db import Workspace

HEAD = "sentiment"
TARGET, AGAINST = "positive", "negative"
NEGATIVE, POSITIVE = "negative", "positive"  # the two directions of a word list
#: negations carry sentiment, so they stay listed although they are stop words
NEGATIONS = frozenset({"not", "no", "nor", "never", "nothing", "none", "cannot", "without"})


@functools.lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """English function words left out of the lists ("the", "was", "to"), negations kept."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) - NEGATIONS


@dataclass(frozen=True)
class ReasonSettings:
    """How segment reasons are computed (all of it is part of the run's key)."""

    reviews_per_segment: int = 40
    n_steps: int = 16
    max_length: int = 128
    seed: int = 42
    top: int = 8
    min_reviews: int = 2
    threads: int = 1
    segment_run: str = ""  # the segment run to explain ("": the newest)

    @classmethod
    def from_config(cls, cfg: Config) -> "ReasonSettings":
        """The ``explain`` section's segment sample size and thread count."""
        return cls(reviews_per_segment=cfg.explain.segment_reviews, threads=cfg.explain.threads)

    def batch(self) -> BatchSettings:
        """The integrated-gradients settings of one run."""
        return BatchSettings(
            n_steps=self.n_steps, max_length=self.max_length, batch_size=1, threads=self.threads
        )


@dataclass(frozen=True)
class ReasonRun:
    """One finished computation: run id, the segment run explained, counts and cost."""

    run_id: str
    segment_run: str
    model_id: str
    reviews: int
    seconds: float

    @property
    def seconds_per_review(self) -> float:
        """Measured cost of one review (0 without reviews)."""
        return self.seconds / self.reviews if self.reviews else 0.0


def _pii_spans(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in EMAILISH_RE.finditer(text)] if "@" in text else []
    return spans + [m.span() for m in DIGIT_GROUP_RE.finditer(text)]


def review_words(expl: Explanation) -> dict[str, float]:
    """Lower-cased content words of one explanation with their summed scores (function words other
    than negations, and personal data, left out)."""
    spans = _pii_spans(expl.text)
    stop = stop_words()
    out: dict[str, float] = defaultdict(float)
    for w in content_words(expl.text, expl.words):
        if w.score is None or any(a < w.end and w.start < b for a, b in spans):
            continue
        word = w.text.lower()
        if len(word) > 1 and not word.isdigit() and word not in stop and not is_pii_word(word):
            out[word] += float(w.score)
    return out


def aggregate(
    segments: Iterable[int], explanations: Iterable[Explanation], top: int = 8, min_reviews: int = 2
) -> pd.DataFrame:
    """Word lists per segment from explanations paired with their segment ids: segment_id,
    direction (negative/positive), rank, word, score (average push per sampled review, > 0 for
    both directions), reviews (sampled reviews holding the word), sampled."""
    totals: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sampled: dict[int, int] = defaultdict(int)
    for seg, expl in zip(segments, explanations):
        sampled[seg] += 1
        for word, score in review_words(expl).items():
            totals[seg][word] += score
            counts[seg][word] += 1
    rows = []
    for seg, words in totals.items():
        n = sampled[seg]
        kept = [(w, s / n) for w, s in words.items() if counts[seg][w] >= min_reviews]
        for direction, sign in ((NEGATIVE, -1.0), (POSITIVE, 1.0)):
            ranked = sorted(((w, sign * s) for w, s in kept if sign * s > 0), key=lambda x: (-x[1], x[0]))
            rows += [
                (seg, direction, rank, w, s, counts[seg][w], n)
                for rank, (w, s) in enumerate(ranked[:top], start=1)
            ]
    cols = ["segment_id", "direction", "rank", "word", "score", "reviews", "sampled"]
    return pd.DataFrame(rows, columns=cols)


def _sample(ws: Workspace, segment_run: str, settings: ReasonSettings) -> pd.DataFrame:
    """The seeded review sample plus each segment's representative reviews (their shown snippets)."""
    from cx_core.segments.run import load_segment_info

    sample = review_sample(ws, segment_run, settings.reviews_per_segment, settings.seed)
    info = load_segment_info(ws, segment_run)
    reps = [
        (int(seg), str(r.get("review_id", "")), str(r["text"]), True)
        for seg, items in zip(info["segment_id"], info["representatives"])
        if seg >= 0
        for r in items
        if str(r.get("text", "")).strip()
    ]
    rows = [(int(s), str(i), str(t), False) for s, i, t in sample.itertuples(index=False)]
    return pd.DataFrame(reps + rows, columns=["segment_id", "review_id", "text", "representative"])


def compute_reasons(
    ws: Workspace,
    segment_run: str,
    model: Any,
    settings: ReasonSettings | None = None,
    progress: Progress = no_progress,
) -> ReasonRun:
    """Explain a sample of every segment's reviews with ``model`` and store the word lists (one
    transaction) and the representatives' explanations; returns the run."""
    cfg = settings or ReasonSettings()
    labels = model.heads_.get(HEAD, [])
    if TARGET not in labels or AGAINST not in labels:
        raise ValueError("the review model has no negative/positive sentiment head to explain")
    started, t0 = datetime.now(), time.perf_counter()
    sample = _sample(ws, segment_run, cfg)
    texts = sample["text"].tolist()
    expls: list[Explanation | None] = []
    for i, text in enumerate(texts):
        progress(i / max(len(texts), 1), f"explaining review {i + 1:,} of {len(texts):,}")
        expls += explain_batch(model, [text], HEAD, TARGET, cfg.batch(), against=AGAINST)
    ok = [(s, e) for s, e, rep in zip(sample["segment_id"], expls, sample["representative"]) if e and not rep]
    words = aggregate([s for s, _ in ok], [e for _, e in ok], cfg.top, cfg.min_reviews)
    run = ReasonRun(
        uuid.uuid4().hex[:12], segment_run, str(model.model_id_), len(texts), time.perf_counter() - t0
    )
    _save(ws, run, words, cfg, started)
    for expl, rep in zip(expls, sample["representative"]):
        if expl is not None and rep:
            store_explanation(ws, expl, [expl.target])
    progress(1.0, f"explained {len(texts):,} reviews")
    return run


def _save(ws: Workspace, run: ReasonRun, words: pd.DataFrame, cfg: ReasonSettings, started: datetime) -> None:
    config = {"segment_run": run.segment_run, "model_id": run.model_id, "settings": asdict(cfg)}
    metrics = {
        "reviews": run.reviews,
        "seconds": round(run.seconds, 2),
        "seconds_per_review": run.seconds_per_review,
    }
    data = words.assign(run_id=run.run_id, segment_run=run.segment_run)
    with ws.write() as cur:
        if len(data):
            cur.register("cx_reason_rows", data)
            cur.execute("INSERT INTO segment_reasons BY NAME SELECT * FROM cx_reason_rows")
            cur.unregister("cx_reason_rows")
        runs.record_run(
            cur, run.run_id, runs.StageName.SEGMENT_REASONS, dataset_version(ws), config, started, metrics
        )


def latest_reasons(ws: Workspace, segment_run: str) -> tuple[dict[str, Any] | None, pd.DataFrame]:
    """The newest reasons run for a segment run ({run_id, model_id, settings, metrics}) and its word
    lists (empty frame when none was computed)."""
    history = runs.history(ws, runs.StageName.SEGMENT_REASONS)
    for run_id, config, metrics in zip(history["run_id"], history["config"], history["metrics"]):
        if config.get("segment_run") == segment_run:
            words = ws.query_df(
                "SELECT segment_id, direction, rank, word, score, reviews, sampled FROM segment_reasons "
                "WHERE run_id = ? ORDER BY segment_id, direction, rank",
                [run_id],
            )
            meta = {
                "run_id": run_id,
                "model_id": config.get("model_id"),
                "settings": config.get("settings", {}),
            }
            return meta | {"metrics": metrics}, words
    return None, pd.DataFrame(
        columns=["segment_id", "direction", "rank", "word", "score", "reviews", "sampled"]
    )


def seconds_per_review(ws: Workspace) -> float | None:
    """Measured cost of one review in the newest reasons run on this workspace (None before one)."""
    run = runs.latest(ws, runs.StageName.SEGMENT_REASONS)
    value = run.metrics.get("seconds_per_review") if run else None
    return float(value) if value else None


def reason_model(ws: Workspace, cfg: Config) -> Any:
    """The model whose sentiment is explained: the newest trained review model, else zero-shot."""
    from cx_core.explain import loader
    from cx_core.reviews.store import latest_model

    found = latest_model(ws)
    if found is not None:
        return loader.load_trained(found["model_dir"])
    return loader.zero_shot_model(cfg)


def representative_explanation(ws: Workspace, meta: dict[str, Any], text: str) -> Explanation | None:
    """The stored explanation of one representative review of a reasons run (None if absent)."""
    from cx_core.explain.cache import lookup
    from cx_core.text.embeddings import text_hash

    fields = set(ReasonSettings.__dataclass_fields__)
    settings = ReasonSettings(**{k: v for k, v in (meta.get("settings") or {}).items() if k in fields})
    target = f"{TARGET} vs {AGAINST}"
    return lookup(ws, str(meta.get("model_id")), text_hash(text), HEAD, target, settings.batch().key())
