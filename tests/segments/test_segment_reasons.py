"""Why each segment feels the way it does: integrated gradients summed per segment (tiny model)."""

from __future__ import annotations

import pandas as pd
import pytest

from cx_core.explain.integrated import Explanation
from cx_core.explain.words import Word
from cx_core.ingest.load import load_file
from cx_core.pipeline.stage import StageContext
from cx_core.pipeline.stages import STAGES
from cx_core.segments.reasons import (
    ReasonSettings,
    aggregate,
    compute_reasons,
    latest_reasons,
    representative_explanation,
    review_words,
    seconds_per_review,
)
from cx_core.segments.run import SegmentSettings, load_segment_info, run_segmentation
from tests.conftest import shared
from tests.explain_fixtures import tiny_sentiment_model
from tests.segment_helpers import BowEncoder

XSS = "<img src=x onerror=alert(1)>"
PII = "Call me on 07700 900123 or mail ann.smith@example.com about the zipper"


def _expl(text: str, scores: dict[str, float]) -> Explanation:
    words, pos = [], 0
    for token in text.split(" "):
        start = text.index(token, pos)
        pos = start + len(token)
        words.append(Word(token, start, pos, scores.get(token, 0.0), 1))
    return Explanation("integrated_gradients", "m", "sentiment", "positive vs negative", 2, text, words, [])


def test_aggregate_ranks_both_directions_and_drops_rare_and_personal_words():
    seg = [0, 0, 0, 1]
    expls = [
        _expl("zipper broke lovely", {"zipper": -1.0, "broke": -2.0, "lovely": 1.0}),
        _expl("zipper broke , &quot;", {"zipper": -1.0, "broke": -1.0, ",": -9.0, "&quot;": -9.0}),
        _expl("lovely Lovely once", {"lovely": 0.5, "Lovely": 0.5, "once": 5.0}),
        _expl("great great", {"great": 2.0}),
    ]
    out = aggregate(seg, expls, top=5, min_reviews=2)
    neg = out[(out.segment_id == 0) & (out.direction == "negative")]
    assert neg["word"].tolist() == ["broke", "zipper"]  # 3/3 > 2/3 per sampled review
    assert neg["score"].tolist() == pytest.approx([1.0, 2 / 3])
    assert neg["reviews"].tolist() == [2, 2] and set(neg["sampled"]) == {3}
    pos = out[(out.segment_id == 0) & (out.direction == "positive")]
    assert pos["word"].tolist() == ["lovely"]  # case folded; "once" is in one review only
    assert out[out.segment_id == 1].empty  # one review: nothing reaches min_reviews


def test_personal_data_and_punctuation_never_become_reasons():
    scores = {w: -1.0 for w in PII.replace("@", " @ ").split()}
    words = review_words(_expl(PII, {"07700": -3.0, "900123": -3.0, "ann.smith@example.com": -3.0} | scores))
    joined = " ".join(words)
    for piece in ("07700", "900123", "ann", "smith", "example", "@"):
        assert piece not in joined
    assert "zipper" in words
    kept = review_words(_expl("the zipper was not good", {"the": -5.0, "was": -5.0, "not": -2.0}))
    assert set(kept) == {"zipper", "not", "good"}  # function words out, negations kept


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    """400 real clothing reviews (one hostile, one with personal data) segmented with a tiny encoder."""
    from cx_core.config import load_config
    from cx_core.store.db import Workspace

    root = tmp_path_factory.mktemp("reasons")
    cfg = load_config(env={}, db__path=str(root / "ws.duckdb"), ingest__upload_dir=str(root / "up"))
    ws = Workspace.open(cfg.db)
    src = pd.read_csv(shared("womens_clothing_reviews/womens_clothing_ecommerce_reviews.csv.gz"), nrows=400)
    src.loc[0, "Review Text"] = XSS + " love the fabric"
    src.loc[1, "Review Text"] = PII
    path = root / "clothing.csv"
    src.to_csv(path, index=False)
    load_file(ws, path, "reviews")
    run_id = run_segmentation(ws, SegmentSettings(min_size=15), encoder=BowEncoder())
    yield ws, cfg, run_id
    ws.close()


@pytest.fixture(scope="module")
def tiny_model():
    return tiny_sentiment_model(seed=1)


def test_reasons_are_computed_stored_and_read_back(segmented, tiny_model):
    ws, _, run_id = segmented
    assert latest_reasons(ws, run_id)[0] is None and seconds_per_review(ws) is None
    steps: list[float] = []
    settings = ReasonSettings(reviews_per_segment=6, n_steps=4, max_length=48, min_reviews=1)
    run = compute_reasons(ws, run_id, tiny_model, settings, lambda f, m: steps.append(f))
    info = load_segment_info(ws, run_id)
    segments = int((info.segment_id >= 0).sum())
    reps = int(info.loc[info.segment_id >= 0, "representatives"].map(len).sum())
    assert run.reviews <= segments * 6 + reps and run.reviews > segments
    assert steps[-1] == 1.0 and steps == sorted(steps)
    meta, words = latest_reasons(ws, run_id)
    assert meta["run_id"] == run.run_id and meta["model_id"] == tiny_model.model_id_
    assert set(words["direction"]) <= {"negative", "positive"} and len(words)
    assert set(words["segment_id"]) <= set(info.segment_id[info.segment_id >= 0])
    assert (words["score"] > 0).all() and (words["sampled"] <= 6).all()
    assert not words["word"].str.contains(r"\d{5}|@|example|<", regex=True).any()
    rep = info.loc[info.segment_id >= 0, "representatives"].iloc[0][0]["text"]
    expl = representative_explanation(ws, meta, rep)
    assert expl is not None and expl.text == rep and expl.target == "positive vs negative"
    assert seconds_per_review(ws) == pytest.approx(run.seconds_per_review)
    again = compute_reasons(ws, run_id, tiny_model, settings)
    assert latest_reasons(ws, run_id)[1].drop(columns=[]).equals(words)  # seeded: same sample, same words
    assert latest_reasons(ws, run_id)[0]["run_id"] == again.run_id


def test_stage_says_what_is_missing(segmented, ws, cfg):
    stage = STAGES["segment_reasons"]
    assert stage.needs == ("segments",)
    assert stage.missing(StageContext(ws, cfg)) == "no reviews loaded"
    seg_ws, seg_cfg, run_id = segmented
    assert stage.missing(StageContext(seg_ws, seg_cfg)) is None
    off = StageContext(seg_ws, seg_cfg, settings={"segment_reasons": ReasonSettings(reviews_per_segment=0)})
    assert "turned off" in stage.missing(off)
