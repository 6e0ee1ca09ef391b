"""Text recommendations: planted topics recovered, reviewed/bought items excluded, anonymous
reviewers, reasons, hybrid split by source, CLI and the batch stage (tiny encoder)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cx_core.recommend.orders import REC_COLUMNS
from cx_core.recommend.text import (
    PraisePopularityRecommender,
    TextRecommender,
    is_anonymous,
    item_label,
    reviewer_key,
    reviewer_label,
)

HOSTILE = "<img src=x onerror=alert(1)>"


def _planted() -> tuple[pd.DataFrame, np.ndarray]:
    """Two topics (dresses, shoes), 3 items each, 4 praising reviews per item; reviewer 'u'
    praised dress d1 (5 stars) and panned shoe s1; two anonymous reviews."""
    rng = np.random.default_rng(0)
    topic = {"d": np.eye(8)[0], "s": np.eye(8)[1]}
    rows, vecs = [], []
    for item in ("d1", "d2", "d3", "s1", "s2", "s3"):
        for k in range(4):
            rows.append((f"{item}-{k}", f"c-{item}-{k}", item, 5.0, ["fit"] if item[0] == "d" else []))
            vecs.append(topic[item[0]] + rng.normal(0, 0.2, 8))
    rows += [("u1", "u", "d1", 5.0, ["fit"]), ("u2", "u", "s1", 1.0, [])]
    vecs += [topic["d"] + rng.normal(0, 0.1, 8), topic["s"] + rng.normal(0, 0.1, 8)]
    rows += [("a1", None, "s2", 4.0, []), ("a2", None, "s3", 2.0, [])]
    vecs += [topic["s"] + rng.normal(0, 0.1, 8), topic["s"] + rng.normal(0, 0.1, 8)]
    df = pd.DataFrame(rows, columns=["review_id", "customer_id", "item", "rating", "praised_aspects"])
    emb = np.array(vecs, dtype=np.float32)
    return df, emb / np.linalg.norm(emb, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def planted():
    return _planted()


def test_recovers_planted_items_with_reasons(planted):
    df, emb = planted
    names = {"d1": "Easy linen dress", "d2": HOSTILE}
    recs = TextRecommender().fit(df, emb, names).recommend(["u"], n=3)
    assert list(recs.columns) == REC_COLUMNS
    assert set(recs["item"][:2]) == {"d2", "d3"} and "d1" not in set(recs["item"])
    top = recs.iloc[0]
    assert top["because_item"] == "d1"
    assert top["reason"] == "praised for fit, like Easy linen dress you rated 5★ (praised by 4 reviewers)"
    assert HOSTILE in set(recs["item_name"])  # raw here; pages escape it
    assert recs["score"].is_monotonic_decreasing


def test_reason_without_aspects_and_exclusions(planted):
    df, emb = planted
    model = TextRecommender(popularity_weight=0.0).fit(
        df.drop(columns="praised_aspects"), emb, exclude=pd.DataFrame({"customer_id": ["u"], "item": ["d2"]})
    )
    recs = model.recommend(["u"], n=10)
    assert not {"d1", "d2", "s1"} & set(recs["item"])  # reviewed or bought
    assert recs["item"].iat[0] == "d3"
    assert recs["reason"].iat[0] == "reviews read like your review of d1"


def test_anonymous_reviewers(planted):
    df, emb = planted
    model = TextRecommender().fit(df, emb)
    assert "review:a1" in set(model.reviewers_) and is_anonymous("review:a1")
    assert reviewer_key(None, "a1") == "review:a1" and reviewer_key("u", "x") == "u"
    assert reviewer_label("review:a1") == "anonymous reviewer, review a1"
    recs = model.recommend(["review:a1"], n=2)
    assert set(recs["item"]) <= {"s1", "s3"} and recs["because_item"].iat[0] == "s2"
    low = model.recommend(["review:a2"], n=2)  # no praised review: the most praised items
    assert low["reason"].str.startswith("popular: praised by").all() and "s3" not in set(low["item"])


def test_missing_rating_uses_sentiment_and_all_reviewers_fast(planted):
    df, emb = planted
    df = df.assign(
        rating=df["rating"].where(df["customer_id"] != "u"),
        sentiment=np.where(df["review_id"] == "u1", "positive", "negative"),
    )
    recs = TextRecommender().fit(df, emb).recommend(None, n=2)
    u = recs[recs["customer_id"] == "u"]
    assert u["because_item"].iat[0] == "d1" and "you praised" in u["reason"].iat[0]
    assert recs.groupby("customer_id").size().max() == 2


def test_baseline_and_bad_input(planted):
    df, emb = planted
    pop = PraisePopularityRecommender().fit(df, emb).recommend(["u"], n=3)
    assert len(pop) == 3 and not {"d1", "s1"} & set(pop["item"])
    with pytest.raises(ValueError, match="one embedding row per review"):
        TextRecommender().fit(df, emb[:3])
    with pytest.raises(ValueError, match="praised reviews"):
        TextRecommender(min_praised=99).fit(df, emb)
    with pytest.raises(ValueError, match="No reviews for reviewer"):
        TextRecommender().fit(df, emb).recommend(["nobody"])


# -- workspace: hybrid, CLI, batch -------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from cx_core.reviews.testing import tiny_encoder_dir

    return tiny_encoder_dir(tmp_path_factory.mktemp("enc"))


def _seed(ws, tmp_path) -> None:
    """Orders for customers o1..o6 (items x1..x3); reviews by o1 and r1 and anonymous ones."""
    from cx_core.ingest.load import load_file

    orders = pd.DataFrame(
        {
            "customer_id": [f"o{i}" for i in range(1, 7) for _ in range(2)],
            "order_id": [f"n{i}-{k}" for i in range(1, 7) for k in range(2)],
            "ts": "2024-01-01",
            "amount": 1.0,
            "item": ["x1", "x2", "x1", "x3", "x2", "x3"] * 2,
        }
    )
    orders.to_csv(tmp_path / "o.csv", index=False)
    load_file(
        ws,
        tmp_path / "o.csv",
        "orders",
        {
            "customer_id": "customer_id",
            "order_id": "order_id",
            "ts": "ts",
            "amount": "amount",
            "item": "item",
        },
    )
    texts = [
        "soft fabric and true to size",
        "lovely colour, fits well",
        "runs small, poor stitching",
        f"{HOSTILE} great buy",
        "fits perfectly, soft",
        "comfortable and soft",
    ]
    reviews = pd.DataFrame(
        {
            "review_id": [f"v{i}" for i in range(12)],
            "customer_id": ["o1", "r1", "r1", None, None, None] * 2,
            "item": ["p1", "p2", "p3", "p1", "p2", "p3", "p2", "p4", "p4", "p3", "p1", "p4"],
            "rating": [5, 5, 2, 4, 5, 5, 4, 5, 4, 5, 5, 4],
            "category": ["Dresses", "Tops", HOSTILE] * 4,
            "text": texts * 2,
        }
    )
    reviews.to_csv(tmp_path / "r.csv", index=False)
    load_file(
        ws,
        tmp_path / "r.csv",
        "reviews",
        {
            "review_id": "review_id",
            "customer_id": "customer_id",
            "item": "item",
            "rating": "rating",
            "category": "category",
            "text": "text",
        },
    )


def _encoder():
    """The encoder the environment names (the tiny test encoder: the fixture sets CX_MODEL_DIR)."""
    from cx_core.config import load_config
    from cx_core.text.encoder import TextEncoder

    return TextEncoder.from_config(load_config().model)


@pytest.fixture
def ws(tmp_path, tiny_dir, monkeypatch):
    from cx_core.config import load_config
    from cx_core.store.db import Workspace

    monkeypatch.setenv("CX_MODEL_DIR", tiny_dir)
    monkeypatch.setenv("CX_MODEL_DEVICE", "cpu")
    w = Workspace.open(load_config(db__path=str(tmp_path / "w.duckdb")).db)
    _seed(w, tmp_path)
    yield w
    w.close()


def test_hybrid_split_by_source(ws, tiny_dir):
    from cx_core.recommend.store import build_recommendations, load_recommendations

    run = build_recommendations(ws, "auto", n=2, encoder=_encoder())
    recs = load_recommendations(ws, run)
    src = recs.groupby("customer_id")["source"].first().to_dict()
    assert src["o1"] == "als" and src["r1"] == "text" and src["review:v3"] == "text"
    assert {f"o{i}" for i in range(1, 7)} <= set(src) and "review:v0" not in src
    assert not set(recs.loc[recs["customer_id"] == "r1", "item"]) & {"p2", "p3"}
    metrics = ws.query_one("SELECT metrics_json FROM runs WHERE run_id = ?", [run])[0]
    assert '"by_source"' in metrics
    text = load_recommendations(ws, build_recommendations(ws, "text", n=2, encoder=_encoder()))
    assert set(text["source"]) == {"text"} and "o1" in set(text["customer_id"])
    assert "o2" not in set(text["customer_id"])  # no reviews: nothing from text
    names = set(text["item_name"])
    assert "Dresses p1" in names or "Tops p2" in names


def test_cli_text_method(ws, tmp_path, capsys):
    from cx_core.cli.main import main

    db = ws.path
    ws.close()
    assert main(["--db", db, "recommend", "--customer", "review:v4", "--method", "text", "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("customer review:v4:") and "(text)" in out and "review" in out
    assert main(["--db", db, "recommend", "--customer", "nobody", "--method", "text"]) == 2


def test_batch_stage_runs_then_skips(ws):
    from cx_core.config import load_config
    from cx_core.pipeline.stage import RunOptions, StageContext, run_stage
    from cx_core.pipeline.stages import STAGES
    from cx_core.progress import no_progress

    cfg = load_config()
    ctx = StageContext(ws, cfg, RunOptions(), {})
    first = run_stage(STAGES["recommend"], ctx, no_progress)
    assert first.status == "done" and first.run_id.startswith("rec_")
    ctx.previous = {"recommend": {"key": first.key, "run_id": first.run_id}}
    again = run_stage(STAGES["recommend"], ctx, no_progress)
    assert again.status == "skipped" and again.run_id == first.run_id


def test_batch_stage_skipped_without_items(tmp_path):
    from cx_core.config import load_config
    from cx_core.pipeline.stage import RunOptions, StageContext, run_stage
    from cx_core.pipeline.stages import STAGES
    from cx_core.progress import no_progress
    from cx_core.store.db import Workspace

    cfg = load_config(db__path=str(tmp_path / "e.duckdb"))
    w = Workspace.open(cfg.db)
    try:
        out = run_stage(STAGES["recommend"], StageContext(w, cfg, RunOptions(), {}), no_progress)
        assert out.status == "skipped" and "with items" in out.reason
    finally:
        w.close()


def test_export_carries_text_recommendations_for_anonymous_reviewers(ws):
    from datetime import datetime

    from cx_core.insight.export import export_frame
    from cx_core.recommend.store import build_recommendations

    build_recommendations(ws, "auto", n=2, encoder=_encoder())
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO runs VALUES ('seg1', 'segments', 'k', '{}', ?, ?, 'done', '{}')",
            [datetime(2024, 1, 1), datetime(2024, 1, 1)],
        )
        for rid in ("v3", "v1"):
            cur.execute("INSERT INTO segments VALUES ('seg1', 'review', ?, 0, false, 1.0, 0, 0)", [rid])
    df = export_frame(ws, "seg1", mask_pii=False).set_index("review_id")
    assert df.loc["v3", "recommended_items"].count("[") == 2 and pd.isna(df.loc["v3", "customer_id"])
    assert isinstance(df.loc["v1", "recommended_items"], str)  # r1's own recommendations
    from cx_core.recommend.store import segment_recommended_items

    seg = segment_recommended_items(ws, "seg1", 0)
    assert list(seg.columns) == ["item", "item_name", "members", "share", "reason"]
    assert seg["members"].max() <= 2 and seg["share"].between(0, 1).all() and len(seg) >= 1
    assert seg["reason"].str.len().gt(0).all()


def test_aspect_reasons_from_the_newest_scoring_run(ws):
    from datetime import datetime

    from cx_core.recommend.text_inputs import load_review_rows, text_recommendations

    ds = ws.scalar("SELECT dataset_id FROM reviews LIMIT 1")
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO runs VALUES ('sc1', 'review_scores', 'k', '{}', ?, ?, 'done', '{}')",
            [datetime(2024, 1, 1), datetime(2024, 1, 1)],
        )
        for rid in ("v0", "v3", "v10"):  # the praised reviews of p1
            cur.execute(
                "INSERT INTO review_scores (run_id, dataset_id, review_id, model_id, "
                "sentiment_method, sentiment, aspect_sentiment_json) VALUES "
                "('sc1', ?, ?, 'm', 'x', 'positive', ?)",
                [ds, rid, '{"fit": 0.9, "price": -0.5}'],
            )
    rows = load_review_rows(ws)
    assert rows.set_index("review_id").loc["v0", "praised_aspects"] == ["fit"]
    recs, _ = text_recommendations(ws, _tiny(ws), ["review:v4"], n=3)
    p1 = recs[recs["item"] == "p1"]
    assert p1["reason"].iat[0].startswith("praised for fit, like ")


def _tiny(ws):
    from cx_core.config import load_config
    from cx_core.text.encoder import TextEncoder

    return TextEncoder.from_config(load_config().model)


def _two_taste_reviewers(n_reviewers: int = 60, seed: int = 3):
    """Reviewers who praise 3 items of one of two tastes; one popular item of each taste."""
    rng = np.random.default_rng(seed)
    topic = {t: rng.normal(size=16) for t in "ab"}
    rows, vecs = [], []
    for u in range(n_reviewers):
        t = "ab"[u % 2]
        picks = rng.choice(6, size=3, replace=False)
        for k, i in enumerate(picks):
            rows.append((f"r{u}-{k}", f"u{u}", f"{t}{i}", 5.0, pd.Timestamp(2024, 1, 1 + k)))
            vecs.append(topic[t] + rng.normal(0, 0.6, 16))
    df = pd.DataFrame(rows, columns=["review_id", "customer_id", "item", "rating", "ts"])
    emb = np.array(vecs, dtype=np.float32)
    return df, emb / np.linalg.norm(emb, axis=1, keepdims=True)


def test_auto_weight_is_validated_on_held_out_reviews():
    df, emb = _two_taste_reviewers()
    model = TextRecommender().fit(df, emb)
    from cx_core.recommend.text import WEIGHT_GRID

    assert model.popularity_weight_ in WEIGHT_GRID
    assert model.validation_["reviewers"] == 60
    assert set(model.validation_["recall_at_10"]) == {str(w) for w in WEIGHT_GRID}
    recs = model.recommend(["u0"], n=3)  # a taste-"a" reviewer gets "a" items
    assert all(i.startswith("a") for i in recs["item"])


def test_auto_weight_falls_back_without_enough_reviewers(planted):
    from cx_core.recommend.text import DEFAULT_POPULARITY_WEIGHT

    df, emb = planted
    model = TextRecommender().fit(df, emb)
    assert model.popularity_weight_ == DEFAULT_POPULARITY_WEIGHT and "reason" in model.validation_
    with pytest.raises(ValueError, match="aggregate"):
        TextRecommender(aggregate="median").fit(df, emb)


def test_max_aggregate_and_fixed_weight(planted):
    df, emb = planted
    recs = TextRecommender(aggregate="max", popularity_weight=0.0).fit(df, emb).recommend(["u"], n=2)
    assert set(recs["item"]) == {"d2", "d3"}
    assert "praised by" not in recs["reason"].iat[0]


def test_item_label_does_not_repeat_the_id():
    """Recommend showed "Dora Satin Slip Dress (Dora Satin Slip Dress)" when the id is the name."""
    assert item_label("Dora Satin Slip Dress", "Dora Satin Slip Dress") == ("Dora Satin Slip Dress", None)
    assert item_label("KNT-C02", "Nell Cable Knit") == ("Nell Cable Knit", "KNT-C02")
    assert item_label("984", None) == ("984", None)
    assert item_label("984", float("nan")) == ("984", None)
    assert item_label("984", "  ") == ("984", None)
