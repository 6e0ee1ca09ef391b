"""Theme runs extended after new reviews: old reviews keep their theme, new ones join their topic."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from cx_core.themes.extend import extend_themes
from cx_core.themes.run import ThemeSettings, discover_themes, load_themes, promote_theme, theme_runs
from tests.themes.test_themes import TOPICS, insert_reviews, labels_by_text, planted_corpus

SETTINGS = ThemeSettings(seed=3)


def add_dataset(ws, dataset_id: str) -> None:
    """A ``datasets`` row loaded now (the batch key and the 'loaded after' rule read it)."""
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO datasets VALUES (?, 'reviews', 'test.csv', 'x', ?, 0, 0, '{}', '{}')",
            [dataset_id, datetime.now()],
        )


def new_reviews(enc, texts, truth, per_topic: int, seed: int = 1) -> tuple[list[str], list[int]]:
    """New texts near each planted topic's centre (vectors registered with the encoder)."""
    rng = np.random.default_rng(seed)
    out, topic = [], []
    for k, words in enumerate(TOPICS.values()):
        centre = np.mean([enc.vectors[t] for t, y in zip(texts, truth) if y == k], axis=0)
        for i in range(per_topic):
            text = f"new {k}-{i}: " + " ".join(rng.choice(words, 5)) + " again"
            v = centre / np.linalg.norm(centre) + 0.1 * rng.normal(size=enc.dim_)
            enc.vectors[text] = v / np.linalg.norm(v)
            out.append(text), topic.append(k)
    return out, topic


@pytest.fixture
def base(ws):
    texts, truth, enc = planted_corpus(n_noise=6)
    add_dataset(ws, "ds_test")
    insert_reviews(ws, texts)
    run_id = discover_themes(ws, SETTINGS, encoder=enc)
    return ws, texts, truth, enc, run_id


def _topic_theme(got: dict[str, int], texts, truth, k: int) -> int:
    ids, counts = np.unique([got[t] for t, y in zip(texts, truth) if y == k], return_counts=True)
    return int(ids[np.argmax(counts)])


def test_new_reviews_join_their_topic_and_old_ones_stay(base):
    ws, texts, truth, enc, old = base
    themes = load_themes(ws, old)
    promoted = promote_theme(ws, old, int(themes[themes.theme_id >= 0].theme_id.iloc[0]), "my aspect")
    added, topic = new_reviews(enc, texts, truth, per_topic=3)
    add_dataset(ws, "ds_new")
    insert_reviews(ws, added + ["ok"], dataset_id="ds_new")
    seen = []
    ext = extend_themes(ws, old, enc, 0.2, lambda f, m: seen.append(f), settings=SETTINGS)
    assert ext.run_id and ext.placed == len(added) and seen[-1] == 1.0
    assert "extended" in ext.reason and ext.share == pytest.approx(len(added) / (len(texts) + 9))
    a, b = labels_by_text(ws, old), labels_by_text(ws, ext.run_id)
    assert all(b[t] == a[t] for t in texts)
    flags = ws.query_df(
        "SELECT a.is_outlier = b.is_outlier AS same FROM review_themes a JOIN "
        "review_themes b USING (dataset_id, review_id) WHERE a.run_id = ? AND "
        "b.run_id = ?",
        [old, ext.run_id],
    )
    assert flags["same"].all()
    for text, k in zip(added, topic):
        assert b[text] == _topic_theme(a, texts, truth, k)
    new = load_themes(ws, ext.run_id)
    sizes = ws.query_df(
        "SELECT theme_id, count(*) AS n FROM review_themes WHERE run_id = ? GROUP BY theme_id", [ext.run_id]
    ).set_index("theme_id")["n"]
    assert (new.set_index("theme_id")["size"] == sizes.reindex(new.theme_id).to_numpy()).all()
    assert new["share"].sum() == pytest.approx(1.0) and new["size"].sum() == len(texts) + 9
    keep = ["theme_id", "name", "keywords_json"]
    assert new[keep].equals(themes[keep])
    assert promoted in set(new["promoted_as"].dropna())
    m = theme_runs(ws).set_index("run_id")["metrics"][ext.run_id]
    assert m["extended_from"] == old and m["placed"] == 9 and m["skipped_short"] == 1
    assert enc.calls == 2  # only the new texts were encoded


def test_too_many_new_reviews_or_other_settings_refit(base):
    ws, texts, truth, enc, old = base
    added, _ = new_reviews(enc, texts, truth, per_topic=20)
    add_dataset(ws, "ds_new")
    insert_reviews(ws, added, dataset_id="ds_new")
    runs = len(theme_runs(ws))
    ext = extend_themes(ws, old, enc, 0.2, settings=SETTINGS)
    assert ext.run_id is None and "refit above 20%" in ext.reason and ext.placed == 60
    assert extend_themes(ws, old, enc, 0.5, settings=SETTINGS.replace(seed=4)).run_id is None
    enc_other = type(enc)(enc.vectors, enc.dim_)
    enc_other.identify = lambda: "other:1:f32"
    assert "encoder" in extend_themes(ws, old, enc_other, 0.5).reason
    assert len(theme_runs(ws)) == runs  # nothing written
    assert extend_themes(ws, old, enc, 0.5, settings=SETTINGS).run_id
    with pytest.raises(ValueError, match="No finished theme run"):
        extend_themes(ws, "run_nope", enc)


def test_batch_stage_extends_after_a_few_new_reviews(ws, cfg):
    from cx_core.pipeline.stage import RunOptions, StageContext, run_stage
    from cx_core.pipeline.stages import STAGES
    from cx_core.progress import no_progress

    texts, truth, enc = planted_corpus(n_noise=6)
    add_dataset(ws, "ds_test")
    insert_reviews(ws, texts)
    ctx = StageContext(ws, cfg, RunOptions(incremental=True), {}, encoder_override=enc)
    first = run_stage(STAGES["themes"], ctx, no_progress)
    assert first.extra["mode"] == "refit" and first.reason == "refit: no theme run yet"
    added, _ = new_reviews(enc, texts, truth, per_topic=2)
    add_dataset(ws, "ds_new")
    insert_reviews(ws, added, dataset_id="ds_new")
    second = run_stage(STAGES["themes"], ctx, no_progress)
    assert second.extra == {"mode": "extended", "placed": 6}
    assert second.reason.startswith(f"extended {first.run_id}: placed 6 new reviews")
    ctx.opts.force = True
    assert run_stage(STAGES["themes"], ctx, no_progress).extra["mode"] == "refit"
