"""Open themes over review embeddings: planted topics, reproducibility, outliers, promotion, real text."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from cx_core.reviews.taxonomy import TaxonomyError, apply_starter, load_taxonomy, taxonomy_frame
from cx_core.themes.run import (
    ThemeSettings,
    covering_aspect,
    discover_themes,
    load_themes,
    promote_theme,
    suggest_aspect_name,
    taxonomy_overlap,
    theme_reviews,
    theme_runs,
)

XSS = "<img src=x onerror=alert(1)>"
TOPICS = {
    "delivery": ["parcel", "courier", "delivery", "late", "tracking", "arrived", "weeks", "lost"],
    "fit": ["size", "small", "tight", "fit", "waist", "sizing", "large", "length"],
    "eco": ["recycled", "sustainable", "eco", "planet", "organic", "ethical", "plastic free", "carbon"],
}


class PlantedEncoder:
    """Vectors from a lookup (text -> vector) filled by the test; unknown texts get noise."""

    def __init__(self, vectors: dict[str, np.ndarray], dim: int = 32) -> None:
        self.vectors, self.dim_, self.calls = vectors, dim, 0

    def identify(self) -> str:
        return "planted:1:f32"

    def encode(self, texts, progress=None) -> np.ndarray:
        self.calls += 1
        out = np.stack([self.vectors.get(t, self._noise(t)) for t in texts])
        if progress:
            progress(len(texts), len(texts))
        return out.astype(np.float32)

    def _noise(self, text: str) -> np.ndarray:
        rng = np.random.default_rng(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16))
        v = rng.normal(size=self.dim_)
        return v / np.linalg.norm(v)


def insert_reviews(
    ws, texts: list[str], dataset_id: str = "ds_test", customers: list[str | None] | None = None
) -> None:
    """Write review rows straight into the workspace (ids r0001, r0002, ...)."""
    frame = pd.DataFrame(
        {
            "dataset_id": dataset_id,
            "review_id": [f"r{i:04d}" for i in range(len(texts))],
            "customer_id": customers or [None] * len(texts),
            "text": texts,
            "rating": 3.0,
            "text_hash": [hashlib.sha256(t.encode()).hexdigest() for t in texts],
        }
    )
    with ws.write() as cur:
        cur.register("_t", frame)
        cur.execute("INSERT INTO reviews BY NAME SELECT * FROM _t")
        cur.unregister("_t")


def planted_corpus(n_per_topic: int = 70, n_noise: int = 0, seed: int = 0, dim: int = 32):
    """Texts, truth labels and an encoder whose vectors cluster by topic."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(TOPICS), dim))
    texts, truth, vecs = [], [], {}
    for k, words in enumerate(TOPICS.values()):
        for i in range(n_per_topic):
            text = f"review {k}-{i}: " + " ".join(rng.choice(words, 5)) + " and more"
            v = centres[k] + 0.25 * rng.normal(size=dim)
            texts.append(text), truth.append(k)
            vecs[text] = v / np.linalg.norm(v)
    tiny = rng.normal(size=dim)  # off-topic reviews, too few to be a theme (see WITH_OUTLIERS)
    for i in range(n_noise):
        text = f"noise {i}: something else entirely here"
        v = tiny + 0.25 * rng.normal(size=dim)
        texts.append(text), truth.append(-1)
        vecs[text] = v / np.linalg.norm(v)
    return texts, np.array(truth), PlantedEncoder(vecs, dim)


def labels_by_text(ws, run_id: str) -> dict[str, int]:
    df = ws.query_df(
        "SELECT r.text, t.theme_id FROM review_themes t JOIN reviews r "
        "USING (dataset_id, review_id) WHERE t.run_id = ?",
        [run_id],
    )
    return dict(zip(df["text"], df["theme_id"]))


# ------------------------------------------------------------------- planted themes

# Settings that always leave HDBSCAN outliers on the planted corpus: "leaf" selection keeps the
# finest themes, so every review that drops out of a topic before it splits into sub-themes is an
# outlier (36-120 of 217 here, on AVX-512, AVX2 and generic kernels alike). With the default "eom"
# the topics are separate components of the kNN graph, and whether the small off-topic group comes
# out as -1 or joins a theme depends only on where UMAP's SGD happens to place the components, which
# the CPU's SIMD kernels change (it joined a theme in every seed tried on AVX-512).
WITH_OUTLIERS = {"selection": "leaf"}


@pytest.fixture
def planted(ws):
    texts, truth, enc = planted_corpus(n_noise=6)
    texts += ["ok", "Great", XSS + " the parcel was late and the courier lost it"]
    truth = np.append(truth, [-2, -2, 0])
    enc.vectors[texts[-1]] = enc.vectors[texts[0]]
    insert_reviews(ws, texts)
    # a person's choice of list (the automatic choice may pick another industry for this tiny,
    # synthetic vocabulary: "size"/"small"/"large" also fit restaurant portions)
    apply_starter(ws, "fashion & apparel")
    return ws, texts, truth, enc


def test_planted_topics_become_themes(planted):
    ws, texts, truth, enc = planted
    seen = []
    run_id = discover_themes(ws, ThemeSettings(seed=3), lambda f, m: seen.append(f), encoder=enc)
    assert seen[-1] == 1.0 and seen == sorted(seen)
    themes = load_themes(ws, run_id)
    real = themes[themes.theme_id >= 0]
    assert len(real) == 3
    got = labels_by_text(ws, run_id)
    mask = truth >= 0
    pred = np.array([got[t] for t in np.array(texts)[mask]])
    assert adjusted_rand_score(truth[mask], pred) >= 0.95
    by_topic = {}
    for row in real.itertuples():
        topic = max(TOPICS, key=lambda k: len(set(TOPICS[k]) & set(row.keywords)))
        by_topic[topic] = row
        assert len(set(TOPICS[topic]) & set(row.keywords)) >= 4, row.keywords
        assert len(row.representatives) == 3
        assert {"dataset_id", "review_id", "text"} <= set(row.representatives[0])
    assert by_topic["delivery"].covered_by == "delivery"
    assert by_topic["fit"].covered_by == "fit"
    assert by_topic["eco"].covered_by is None  # a theme the taxonomy does not name yet
    metrics = theme_runs(ws).iloc[0]["metrics"]
    assert metrics["skipped_short"] == 2 and metrics["n_reviews"] == len(texts) - 2
    assert metrics["n_themes"] == 3 and metrics["n_new_themes"] == 1
    # only off-topic reviews may be left out, and whether they are is the layout's call (see
    # WITH_OUTLIERS; the outlier tests below make sure there are some)
    left_out = {t for t, theme in got.items() if theme == -1}
    assert left_out <= set(np.array(texts)[truth == -1])
    assert metrics["outlier_share"] == pytest.approx(len(left_out) / metrics["n_reviews"])
    assert XSS in got or any(XSS in t for t in got)  # stored literally, escaped only when shown


def test_same_data_and_settings_same_themes_and_ids(planted):
    ws, _, _, enc = planted
    a = discover_themes(ws, ThemeSettings(seed=5), encoder=enc)
    b = discover_themes(ws, ThemeSettings(seed=5), encoder=enc)
    assert a != b
    cols = ["theme_id", "name", "keywords_json", "size", "representative_json", "covered_by"]
    pd.testing.assert_frame_equal(load_themes(ws, a)[cols], load_themes(ws, b)[cols])
    assert labels_by_text(ws, a) == labels_by_text(ws, b)
    assert enc.calls == 1  # the second run read every vector from the cache


def test_outliers_reported_then_assigned_but_flagged(planted):
    ws, texts, truth, enc = planted
    keep = discover_themes(ws, ThemeSettings(seed=3, **WITH_OUTLIERS), encoder=enc)
    assign = discover_themes(ws, ThemeSettings(seed=3, assign_outliers=True, **WITH_OUTLIERS), encoder=enc)
    t_keep, t_assign = load_themes(ws, keep), load_themes(ws, assign)
    assert (t_keep.theme_id == -1).any() and not (t_assign.theme_id == -1).any()
    sql = "SELECT review_id, theme_id, is_outlier FROM review_themes WHERE run_id = ? ORDER BY review_id"
    before, rows = ws.query_df(sql, [keep]), ws.query_df(sql, [assign])
    n_out = int(t_keep.loc[t_keep.theme_id == -1, "size"].iloc[0])
    assert (before["is_outlier"] == (before["theme_id"] == -1)).all()
    assert rows["is_outlier"].sum() == n_out and (rows["theme_id"] >= 0).all()
    assert (rows["is_outlier"] == before["is_outlier"]).all()  # the same reviews, still flagged
    kept = ~before["is_outlier"]
    assert (rows.loc[kept, "theme_id"] == before.loc[kept, "theme_id"]).all()  # members stay put
    assert t_assign["outlier_members"].sum() == n_out
    assert t_assign["size"].sum() == t_keep["size"].sum()
    m = theme_runs(ws).set_index("run_id")["metrics"]
    assert m[assign]["outlier_share"] == m[keep]["outlier_share"] > 0
    assert m[assign]["unassigned_share"] == 0


def test_promote_theme_to_taxonomy(planted):
    ws, _, _, enc = planted
    run_id = discover_themes(ws, ThemeSettings(seed=3), encoder=enc)
    themes = load_themes(ws, run_id)
    eco = themes[themes.covered_by.isna() & (themes.theme_id >= 0)].iloc[0]
    name = promote_theme(ws, run_id, int(eco.theme_id), name="Sustainability")
    assert name == "sustainability"
    assert load_taxonomy(ws)["sustainability"] == [k.lower() for k in eco.keywords]
    tax = taxonomy_frame(ws).set_index("aspect")
    assert tax.loc["sustainability", "source"] == "theme"
    assert load_themes(ws, run_id).set_index("theme_id").loc[eco.theme_id, "promoted_as"] == name
    with pytest.raises(ValueError, match="already has"):
        promote_theme(ws, run_id, int(eco.theme_id), name="sustainability")
    with_outliers = discover_themes(ws, ThemeSettings(seed=3, **WITH_OUTLIERS), encoder=enc)
    assert (load_themes(ws, with_outliers).theme_id == -1).any()
    with pytest.raises(ValueError, match="Outliers"):
        promote_theme(ws, with_outliers, -1)
    with pytest.raises(ValueError, match="No theme 99"):
        promote_theme(ws, run_id, 99)
    with pytest.raises(TaxonomyError):
        promote_theme(ws, run_id, int(eco.theme_id), name=XSS)
    assert promote_theme(ws, run_id, int(eco.theme_id)) == suggest_aspect_name(eco["name"])


def test_suggested_names_fit_the_taxonomy_rules():
    assert suggest_aspect_name("late delivery, refund & parcel") == "late delivery refund & parcel"
    assert suggest_aspect_name(XSS) == "img src x onerror alert 1"
    long = suggest_aspect_name("word " * 20)
    assert len(long) <= 40 and not long.endswith(" ")
    assert suggest_aspect_name("!!!") == "theme"


def test_too_few_reviews_and_bad_settings(ws):
    texts, _, enc = planted_corpus(n_per_topic=5)
    insert_reviews(ws, texts)
    with pytest.raises(ValueError, match="at least 30 reviews"):
        discover_themes(ws, ThemeSettings(), encoder=enc)
    for bad in (dict(selection="x"), dict(preset="x"), dict(min_size=1), dict(covered_share=0)):
        with pytest.raises(ValueError):
            discover_themes(ws, ThemeSettings(**bad), encoder=enc)


def test_small_corpus_runs(ws):
    texts, truth, enc = planted_corpus(n_per_topic=12)
    insert_reviews(ws, texts)
    run_id = discover_themes(ws, ThemeSettings(), encoder=enc)
    got = labels_by_text(ws, run_id)
    assert adjusted_rand_score(truth, [got[t] for t in texts]) >= 0.9


def test_taxonomy_overlap_counts_seed_mentions_and_lift():
    texts = ["The parcel arrived late", "great fit", "late delivery again", "lovely colour"]
    raw = np.array([0, 1, 0, -1])
    ov = taxonomy_overlap(texts, raw, {"delivery": ["late", "arrived"], "fit": ["fit"], "price": ["cheap"]})
    assert ov == {0: {"delivery": {"share": 1.0, "lift": 2.0}}, 1: {"fit": {"share": 1.0, "lift": 4.0}}}
    assert covering_aspect(ov[0], 0.5, 1.25) == "delivery"
    assert covering_aspect(ov[0], 0.5, 2.5) is None  # common everywhere: not a cover


def test_broad_aspect_does_not_cover_everything():
    """An aspect most reviews mention (like "design" in clothing) covers no theme by share alone."""
    texts = [f"cute dress {i}" for i in range(8)] + [f"cute recycled {i}" for i in range(8)]
    raw = np.repeat([0, 1], 8)
    ov = taxonomy_overlap(texts, raw, {"design": ["cute"], "eco": ["recycled"]})
    assert ov[0]["design"] == {"share": 1.0, "lift": 1.0}
    assert covering_aspect(ov[0], 0.5, 1.25) is None and covering_aspect(ov[1], 0.5, 1.25) == "eco"


def test_theme_reviews_lists_members(planted):
    ws, _, _, enc = planted
    run_id = discover_themes(ws, ThemeSettings(seed=3), encoder=enc)
    rows = theme_reviews(ws, run_id, 0, limit=5)
    assert len(rows) == 5 and not rows["is_outlier"].any()


# ------------------------------------------------------------------- real text (demo store)


def _planted_aspects():
    """Regexes that recover the demo generator's planted sentences (aspect per sentence)."""
    from cx_core.ingest.demo import SENTENCES

    pats = []
    for (aspect, _), templates in SENTENCES.items():
        for t in templates:
            parts = re.split(r"\{\w+\}", t.lower().rstrip(".!"))
            pats.append((aspect, re.compile(".+?".join(re.escape(p) for p in parts))))
    return pats


def dominant_planted_aspect(text: str, pats) -> str | None:
    """The aspect most of a demo review's planted sentences are about; None when tied or unknown."""
    found = [a for a, p in pats if p.search(text.lower())]
    if not found:
        return None
    vals, counts = np.unique(found, return_counts=True)
    return None if (counts == counts.max()).sum() > 1 else str(vals[counts.argmax()])


@pytest.mark.slow
def test_demo_themes_align_with_planted_topics(ws, cfg):
    """Real MiniLM on ~520 demo reviews: themes are pure in the planted topic (where defined)."""
    import torch

    from cx_core.config import apply
    from cx_core.ingest.bootstrap import load_demo
    from cx_core.text.encoder import TextEncoder

    torch.set_num_threads(1)  # 2 threads on 2 shared cores ran 5x slower (oversubscribed)
    load_demo(ws, apply(cfg, {"demo.customers": 600}))
    run_id = discover_themes(ws, ThemeSettings(), encoder=TextEncoder(threads=1))
    df = ws.query_df(
        "SELECT r.text, t.theme_id FROM review_themes t JOIN reviews r "
        "USING (dataset_id, review_id) WHERE t.run_id = ?",
        [run_id],
    )
    pats = _planted_aspects()
    df["truth"] = df["text"].map(lambda t: dominant_planted_aspect(t, pats))
    inside = df[df.truth.notna() & (df.theme_id >= 0)]
    table = pd.crosstab(inside.theme_id, inside.truth)
    purity = table.max(axis=1).sum() / len(inside)
    ari = adjusted_rand_score(inside.truth, inside.theme_id)
    themes = load_themes(ws, run_id)
    metrics = theme_runs(ws).iloc[0]["metrics"]
    print(
        json.dumps(
            {
                "reviews": metrics["n_reviews"],
                "themes": metrics["n_themes"],
                "outlier_share": round(metrics["outlier_share"], 3),
                "purity": round(purity, 3),
                "ari": round(ari, 3),
                "timings": metrics["timings_s"],
            }
        )
    )
    assert purity >= 0.6 and ari >= 0.2  # measured 0.75 / 0.34 (pipeline seeds 1, 2: 0.73, 0.77)
    assert metrics["outlier_share"] < 0.3
    fit_themes = themes[themes.covered_by == "fit"]
    assert len(fit_themes) >= 1
    assert any({"size", "small", "fit", "sizing"} & set(k) for k in fit_themes.keywords)


def test_cli_themes_and_promote(cfg, capsys, monkeypatch):
    import cx_core.themes.run as themes_mod
    from cx_core.cli.main import main
    from cx_core.store.db import Workspace

    texts, _, enc = planted_corpus()
    w = Workspace.open(cfg.db)
    insert_reviews(w, texts)
    w.close()
    monkeypatch.setattr(themes_mod, "make_encoder", lambda model=None: enc)
    assert main(["--db", cfg.db.path, "themes", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "run_id: run_" in out and "covered by delivery" in out and "NEW" in out
    new_id = next(line.split()[0] for line in out.splitlines() if "[NEW]" in line)
    assert main(["--db", cfg.db.path, "themes", "--promote", new_id, "--name", "eco"]) == 0
    assert "Added aspect 'eco'" in capsys.readouterr().out
    assert main(["--db", cfg.db.path, "themes", "--promote", new_id, "--name", "eco"]) == 2
    assert "already has" in capsys.readouterr().err
