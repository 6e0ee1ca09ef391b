"""Open themes in review text: what customers talk about that the aspect taxonomy does not name yet.

The segmentation machinery (``cx_core.cluster``: PCA -> kNN -> UMAP -> HDBSCAN ->
c-TF-IDF) runs over the REVIEW embeddings, like the "recommended topics" of
voice-of-customer tools.  Each theme gets distinctive keywords, a readable name,
its size and share, three representative reviews (nearest the theme's centroid
in embedding space) and its overlap with the current taxonomy: the share of
the theme's reviews that mention each aspect's seed phrases, and the lift of
that share over all reviews.  A theme is flagged as already covered by an
aspect when at least ``covered_share`` of its reviews mention it AND that is
``covered_lift`` times the aspect's share over all reviews (broad aspects such
as "design" are mentioned in most clothing reviews, so share alone would mark
every theme covered); the others are candidates to :func:`promote_theme`.

Runs are seeded and stored (``runs`` stage ``themes``, tables ``themes`` and
``review_themes``): the same data and settings give the same themes with the
same ids.  HDBSCAN outliers are kept (theme ``-1``), their share is reported and,
on request, each is assigned to the nearest theme (``is_outlier`` stays true).
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from cx_core.config import ThemesConfig
from cx_core.progress import Progress
from cx_core.store.db import Workspace
from cx_core.store.runs import history, record_run
from cx_core.text.embeddings import load_review_frame, make_encoder

STAGE = "themes"
OUTLIER = -1
MIN_REVIEWS = 30
AUTO_FAST_ROWS = 20_000
SELECTIONS = ("eom", "leaf")
PRESETS = ("auto", "default", "fast")
_TEXT_CHARS = 400  # representative review text stored per theme


@dataclass(frozen=True)
class ThemeSettings(ThemesConfig):
    """What a theme run uses (all stored with the run): the ``themes`` config section (one set of
    fields and defaults: see :class:`~cx_core.config.ThemesConfig`) plus the run-only dataset.

    ``min_size`` 0 means auto (0.5 % of the reviews, at least 10);
    ``selection`` is HDBSCAN's cluster selection ("eom": broader themes,
    "leaf": finer themes with more outliers); ``min_words``: shorter texts
    ("ok", "Great") carry no theme and are left out (their count is reported).
    """

    dataset_id: str | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> "ThemeSettings":
        """Settings from the ``themes`` section of a :class:`~cx_core.config.Config`."""
        return cls(**dataclasses.asdict(cfg.themes))

    def replace(self, **changes: Any) -> "ThemeSettings":
        """A copy with some settings changed."""
        return replace(self, **changes)

    def validate(self) -> None:
        """Raise ``ValueError`` with a plain message for unusable settings."""
        if self.preset not in PRESETS:
            raise ValueError(f"theme preset must be one of {PRESETS}, got {self.preset!r}")
        if self.selection not in SELECTIONS:
            raise ValueError(f"theme selection must be one of {SELECTIONS}, got {self.selection!r}")
        if self.min_size != 0 and self.min_size < 2:
            raise ValueError("the smallest theme must have at least 2 reviews (0 = auto)")
        if self.min_samples < 1 or self.keywords < 1 or self.min_words < 0:
            raise ValueError("min_samples and keywords must be >= 1, min_words >= 0")
        if not 0.0 < self.covered_share <= 1.0:
            raise ValueError("covered_share must be in (0, 1]")
        if self.covered_lift < 1.0:
            raise ValueError("covered_lift must be >= 1")


# ---------------------------------------------------------------------- inputs


def load_review_vectors(
    ws: Workspace, model_id: str, dataset_id: str | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Reviews with a cached vector for ``model_id``: (dataset_id, review_id, text) and the matrix
    (:func:`cx_core.text.embeddings.load_review_frame`, ordered so runs are reproducible)."""
    return load_review_frame(ws, model_id, dataset_id)


def embed_theme_texts(ws: Workspace, enc: Any, step: Progress) -> str:
    """Embed review texts not cached yet (progress 0-50 %); returns the model id."""
    from cx_core.text.embeddings import embed_reviews

    def prog(done: int, total: int) -> None:
        step(0.05 + 0.45 * done / max(total, 1), f"Embedding review texts {done:,}/{total:,}")

    step(0.02, "Embedding review texts (cached ones are reused)")
    embed_reviews(ws, enc, prog)
    return enc.identify()


def _usable(frame: pd.DataFrame, min_words: int) -> np.ndarray:
    """Rows whose text has at least ``min_words`` words."""
    words = frame["text"].fillna("").str.split().str.len().to_numpy()
    return words >= min_words


def usable_review_vectors(
    ws: Workspace, model_id: str, settings: ThemeSettings
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """The reviews a theme run clusters (``min_words``+ words, optional dataset), their vectors
    and how many were skipped as too short."""
    frame, X = load_review_vectors(ws, model_id, settings.dataset_id)
    keep = _usable(frame, settings.min_words)
    return frame[keep].reset_index(drop=True), X[keep], int((~keep).sum())


# ---------------------------------------------------------------------- pipeline


def make_theme_pipeline(settings: ThemeSettings, n_rows: int) -> Any:
    """The segmentation pipeline configured for themes (no 2-D map)."""
    from sklearn.base import clone

    from cx_core.cluster import CTfidfRepresentation, NullReducer, default_min_cluster_size, make_pipeline

    preset = settings.preset
    if preset == "auto":
        preset = "fast" if n_rows > AUTO_FAST_ROWS else "default"
    pipe = make_pipeline(
        preset,
        n_rows,
        seed=settings.seed,
        map_reducer=NullReducer(),
        representation=CTfidfRepresentation(top_k=settings.keywords),
    )
    size = settings.min_size or default_min_cluster_size(n_rows)
    clusterer = clone(pipe.clusterer).set_params(
        min_cluster_size=int(min(size, n_rows)),
        min_samples=int(settings.min_samples),
        cluster_selection_method=settings.selection,
        assign_outliers=False,
    )
    return pipe.set_params(clusterer=clusterer)


def fit_themes(X: np.ndarray, texts: list[str], settings: ThemeSettings) -> dict[str, Any]:
    """Cluster review vectors into themes: labels, final ids, keywords, representatives.

    Returns ``raw`` (HDBSCAN labels, -1 = outlier), ``labels`` (after optional
    assignment), ``keywords`` ({theme: [(word, score)]}), ``names``,
    ``representatives`` ({theme: row indices}), ``config`` and ``timings``.
    """
    from cx_core.cluster import assign_to_nearest, representative_indices

    pipe = make_theme_pipeline(settings, X.shape[0]).fit(X, texts_by_row=texts)
    raw = np.asarray(pipe.labels_, dtype=np.int64)
    labels = assign_to_nearest(pipe.embedding_, raw) if settings.assign_outliers else raw.copy()
    rep = pipe.representation_
    return {
        "raw": raw,
        "labels": labels,
        "keywords": {int(c): list(tw) for c, tw in rep.top_words_.items()},
        "names": {int(c): n for c, n in rep.names_.items()},
        "representatives": representative_indices(X, raw, k=3),
        "config": pipe.config_(),
        "timings": dict(pipe.timings_),
    }


# ---------------------------------------------------------------------- taxonomy overlap


def _seed_patterns(taxonomy: dict[str, list[str]]) -> dict[str, re.Pattern]:
    """One word-boundary regex per aspect matching any of its seed phrases."""
    out = {}
    for aspect, seeds in taxonomy.items():
        alts = sorted({re.escape(s.lower()) for s in seeds if s.strip()}, key=len, reverse=True)
        if alts:
            out[aspect] = re.compile(r"\b(?:" + "|".join(alts) + r")\b")
    return out


def taxonomy_overlap(
    texts: list[str], raw: np.ndarray, taxonomy: dict[str, list[str]], top: int = 3
) -> dict[int, dict[str, dict[str, float]]]:
    """Per theme, its top ``top`` aspects by share of (core) reviews mentioning their seeds.

    ``{theme: {aspect: {"share": s, "lift": s / share over all reviews}}}``, best share first.
    """
    pats = _seed_patterns(taxonomy)
    lows = [t.lower() for t in texts]
    hits = {a: np.array([bool(p.search(t)) for t in lows]) for a, p in pats.items()}
    base = {a: float(h.mean()) for a, h in hits.items()}
    out: dict[int, dict[str, dict[str, float]]] = {}
    for theme in np.unique(raw[raw != OUTLIER]):
        rows = raw == theme
        shares = {a: float(h[rows].mean()) for a, h in hits.items()}
        best = sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        out[int(theme)] = {a: {"share": round(s, 3), "lift": round(s / base[a], 2)} for a, s in best if s > 0}
    return out


def covering_aspect(overlap: dict[str, dict[str, float]], share: float, lift: float) -> str | None:
    """The aspect with the highest share among those reaching both ``share`` and ``lift``."""
    for aspect, o in overlap.items():
        if o["share"] >= share and o["lift"] >= lift:
            return aspect
    return None


# ---------------------------------------------------------------------- run


def discover_themes(
    ws: Workspace,
    settings: ThemeSettings = ThemeSettings(),
    progress: Progress | None = None,
    model: Any = None,
    encoder: Any = None,
) -> str:
    """Embed missing review texts, find themes, store them as a new run; returns the run id.

    ``model`` is a :class:`~cx_core.config.ModelConfig` (default: the packaged
    MiniLM); ``encoder`` overrides it (anything with ``identify``/``encode``/``dim_``).
    Raises ``ValueError`` when fewer than 30 usable reviews are loaded.
    """
    from cx_core.ingest.datasets import dataset_version
    from cx_core.reviews.taxonomy import load_taxonomy

    settings.validate()
    step = progress or (lambda f, m: None)
    started = datetime.now()
    model_id = embed_theme_texts(ws, encoder if encoder is not None else make_encoder(model), step)
    step(0.52, "Reading review vectors")
    frame, X, skipped = usable_review_vectors(ws, model_id, settings)
    if len(frame) < MIN_REVIEWS:
        raise ValueError(
            f"Themes need at least {MIN_REVIEWS} reviews with {settings.min_words}+ "
            f"words; found {len(frame)}. Load more reviews first."
        )
    step(0.55, f"Finding themes in {len(frame):,} reviews (UMAP + HDBSCAN)")
    fit = fit_themes(X, frame["text"].tolist(), settings)
    step(0.9, "Comparing themes with the aspect taxonomy")
    overlap = taxonomy_overlap(frame["text"].tolist(), fit["raw"], load_taxonomy(ws))
    table = theme_table(frame, fit, overlap, settings)
    metrics = theme_metrics(frame, fit, table, skipped, model_id)
    run_id = "run_" + uuid.uuid4().hex[:10]
    step(0.95, "Saving themes")
    save_theme_run(
        ws,
        run_id,
        frame,
        fit,
        table,
        {"settings": asdict(settings), "pipeline": fit["config"]},
        metrics,
        started,
        dataset_version(ws),
    )
    step(1.0, f"{metrics['n_themes']} themes found")
    return run_id


def theme_table(
    frame: pd.DataFrame, fit: dict[str, Any], overlap: dict[int, dict[str, Any]], settings: ThemeSettings
) -> pd.DataFrame:
    """One row per theme (and one for outliers left unassigned) as stored in ``themes``."""
    labels, rows = fit["labels"], []
    ids, sizes = np.unique(labels, return_counts=True)
    for theme, size in sorted(zip(ids.tolist(), sizes.tolist()), key=lambda t: (t[0] < 0, t[0])):
        ov = overlap.get(theme, {})
        reps = [
            {
                "dataset_id": frame.at[i, "dataset_id"],
                "review_id": frame.at[i, "review_id"],
                "text": str(frame.at[i, "text"])[:_TEXT_CHARS],
            }
            for i in fit["representatives"].get(theme, [])
        ]
        rows.append(
            {
                "theme_id": theme,
                "name": fit["names"].get(theme, "Outliers" if theme < 0 else f"Theme {theme}"),
                "keywords_json": json.dumps([[w, round(s, 5)] for w, s in fit["keywords"].get(theme, [])]),
                "size": size,
                "share": size / labels.size,
                "outlier_members": int(((fit["raw"] == OUTLIER) & (labels == theme)).sum()),
                "representative_json": json.dumps(reps, ensure_ascii=False),
                "overlap_json": json.dumps(ov),
                "covered_by": covering_aspect(ov, settings.covered_share, settings.covered_lift),
            }
        )
    return pd.DataFrame(rows)


def theme_metrics(
    frame: pd.DataFrame, fit: dict[str, Any], table: pd.DataFrame, skipped: int, model_id: str
) -> dict[str, Any]:
    """What the run reports: counts, outlier shares, coverage, timings."""
    themes = table[table["theme_id"] >= 0]
    return {
        "n_reviews": int(len(frame)),
        "skipped_short": skipped,
        "n_themes": int(len(themes)),
        "outlier_share": float(np.mean(fit["raw"] == OUTLIER)),
        "unassigned_share": float(np.mean(fit["labels"] == OUTLIER)),
        "n_new_themes": int(themes["covered_by"].isna().sum()),
        "model_id": model_id,
        "timings_s": fit["timings"],
    }


def save_theme_run(
    ws: Workspace,
    run_id: str,
    frame: pd.DataFrame,
    fit: dict[str, Any],
    table: pd.DataFrame,
    config: dict,
    metrics: dict,
    started: datetime,
    data_key: str,
) -> None:
    """Write the run record, the themes and every review's theme in one transaction."""
    members = pd.DataFrame(
        {
            "run_id": run_id,
            "dataset_id": frame["dataset_id"],
            "review_id": frame["review_id"],
            "theme_id": fit["labels"].astype(np.int32),
            "is_outlier": fit["raw"] == OUTLIER,
        }
    )
    themes = table.assign(run_id=run_id)
    if "promoted_as" not in themes:
        themes["promoted_as"] = None
    with ws.write() as cur:
        cur.register("_cx_themes", themes)
        cur.register("_cx_review_themes", members)
        try:
            cur.execute("INSERT INTO themes BY NAME SELECT * FROM _cx_themes")
            cur.execute("INSERT INTO review_themes BY NAME SELECT * FROM _cx_review_themes")
        finally:
            cur.unregister("_cx_themes")
            cur.unregister("_cx_review_themes")
        record_run(cur, run_id, STAGE, data_key, config, started, metrics)


# ---------------------------------------------------------------------- reading back


def theme_runs(ws: Workspace) -> pd.DataFrame:
    """Finished theme runs, newest first: run_id, finished_at, dataset_key, metrics (dict)."""
    return history(ws, STAGE)


def load_themes(ws: Workspace, run_id: str) -> pd.DataFrame:
    """The themes of a run with keywords, overlap and representatives parsed (themes first)."""
    df = ws.query_df(
        "SELECT * EXCLUDE (run_id) FROM themes WHERE run_id = ? ORDER BY theme_id < 0, theme_id", [run_id]
    )
    df["keywords"] = df["keywords_json"].map(lambda s: [w for w, _ in json.loads(s or "[]")])
    df["overlap"] = df["overlap_json"].map(lambda s: json.loads(s or "{}"))
    df["representatives"] = df["representative_json"].map(lambda s: json.loads(s or "[]"))
    for col in ("covered_by", "promoted_as"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df


def theme_reviews(ws: Workspace, run_id: str, theme_id: int, limit: int = 50) -> pd.DataFrame:
    """Reviews of one theme (text, rating, is_outlier), core members first."""
    return ws.query_df(
        "SELECT t.dataset_id, t.review_id, t.is_outlier, r.rating, r.text FROM review_themes t "
        "JOIN reviews r USING (dataset_id, review_id) WHERE t.run_id = ? AND t.theme_id = ? "
        "ORDER BY t.is_outlier, t.dataset_id, t.review_id LIMIT ?",
        [run_id, int(theme_id), int(limit)],
    )


# ---------------------------------------------------------------------- promotion


def suggest_aspect_name(theme_name: str) -> str:
    """A taxonomy-safe aspect name from a theme name (letters, digits, spaces, -&/; <= 40)."""
    name = re.sub(r"[^\w \-&/]+", " ", theme_name.lower(), flags=re.UNICODE)
    name = " ".join(name.replace("_", " ").split())
    while len(name) > 40 and " " in name:
        name = name.rsplit(" ", 1)[0]
    return name[:40].strip() or "theme"


def promote_theme(ws: Workspace, run_id: str, theme_id: int, name: str | None = None) -> str:
    """Add a theme to the aspect taxonomy (its keywords become the seeds); returns the aspect name.

    Refuses outliers, unknown themes and names the taxonomy already has.
    """
    from cx_core.reviews.taxonomy import add_aspect, load_taxonomy

    row = ws.query_one(
        "SELECT name, keywords_json FROM themes WHERE run_id = ? AND theme_id = ?", [run_id, int(theme_id)]
    )
    if row is None:
        raise ValueError(f"No theme {theme_id} in run {run_id}.")
    if int(theme_id) < 0:
        raise ValueError("Outliers are not a theme and cannot be promoted.")
    aspect = " ".join(str(name if name else suggest_aspect_name(row[0])).split()).lower()
    if aspect in load_taxonomy(ws):
        raise ValueError(f"The taxonomy already has an aspect named {aspect!r}; pick another name.")
    seeds = [w for w, _ in json.loads(row[1] or "[]")]
    stored = add_aspect(ws, aspect, seeds, source="theme")
    with ws.write() as cur:
        cur.execute(
            "UPDATE themes SET promoted_as = ? WHERE run_id = ? AND theme_id = ?",
            [stored, run_id, int(theme_id)],
        )
    return stored
