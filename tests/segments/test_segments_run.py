"""Segmentation runs on real customer vectors: demo groups recovered, reproducible, persisted.

The demo integration tests use the real MiniLM vectors of an 800-customer demo
store (embedded once per pytest process, see tests/segment_helpers.py); the
input-kind tests use a tiny bag-of-words encoder so they take seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from cx_core.cluster import NeighbourPlacer
from cx_core.config import load_config
from cx_core.ingest.demo import generate_demo
from cx_core.ingest.load import load_file
from cx_core.pipeline.graph import run_named
from cx_core.plots.segments import (
    aspect_heatmap_figure,
    aspect_timeline_figure,
    clv_churn_figure,
    segment_map_figure,
    sentiment_timeline_figure,
    size_value_figure,
)
from cx_core.safe import html_escape
from cx_core.segments.query import load_units, segment_aspects, segment_runs, segment_timeline
from cx_core.segments.run import SegmentSettings, load_segment_info, run_segmentation
from cx_core.store.runs import latest
from tests.conftest import shared
from tests.segment_helpers import DEMO_CUSTOMERS, DEMO_SEED, BowEncoder, demo_workspace

XSS = "<img src=x onerror=alert(1)>"
UNIT_COLS = ["unit_id", "segment_id", "is_outlier", "probability", "x", "y"]


def _strings(obj) -> list[str]:
    """Every string inside a figure's ``to_dict()`` (lists, dicts and numpy arrays walked)."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _strings(v)]
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [x for v in obj for x in _strings(v)]
    return []


def _figure_text(fig) -> str:
    return "\n".join(_strings(fig.to_dict()))


def _units(ws, run_id: str) -> pd.DataFrame:
    return ws.query_df(
        "SELECT unit_kind, unit_id, segment_id, is_outlier, probability, x, y "
        "FROM segments WHERE run_id = ? ORDER BY unit_id",
        [run_id],
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo store segmented twice with the same settings (real MiniLM vectors)."""
    ws, cfg = demo_workspace(tmp_path_factory.mktemp("segdemo"))
    n_vectors = ws.scalar("SELECT count(*) FROM embeddings")
    steps: list[tuple[float, str]] = []
    first = run_named(
        "segments", ws, cfg, lambda f, m: steps.append((f, m)), settings=SegmentSettings()
    ).run_id  # profiles first: the stage needs them
    second = run_segmentation(ws, SegmentSettings(), model=cfg.model)
    yield ws, cfg, first, second, steps, n_vectors
    ws.close()


@pytest.mark.slow
def test_demo_groups_come_out_as_segments(demo_run):
    ws, _, run_id, _, _, n_vectors = demo_run
    assert ws.scalar("SELECT count(*) FROM embeddings") == n_vectors  # all texts were cached
    truth = generate_demo(seed=DEMO_SEED, n_customers=DEMO_CUSTOMERS).truth_map()
    u = _units(ws, run_id)
    assert len(u) == DEMO_CUSTOMERS and set(u["unit_kind"]) == {"customer"}
    y = u["unit_id"].map(truth)
    reviewers = u["unit_id"].isin(set(ws.query_df("SELECT customer_id FROM reviews")["customer_id"]))
    ari_all = adjusted_rand_score(y, u["segment_id"])
    ari_rev = adjusted_rand_score(y[reviewers], u["segment_id"][reviewers])
    print(
        f"\ndemo seed {DEMO_SEED}, {DEMO_CUSTOMERS} customers: ARI all {ari_all:.3f}, reviewers {ari_rev:.3f}"
    )
    assert ari_all >= 0.7 and ari_rev >= 0.75  # measured 0.793 / 0.824 (AVX-512), 0.761 / 0.785 (AVX2)


@pytest.mark.slow
def test_same_data_and_settings_same_segments_and_ids(demo_run):
    ws, _, first, second, _, _ = demo_run
    assert first != second
    a, b = _units(ws, first), _units(ws, second)
    pd.testing.assert_frame_equal(a, b)
    ia, ib = load_segment_info(ws, first), load_segment_info(ws, second)
    pd.testing.assert_frame_equal(ia, ib)


@pytest.mark.slow
def test_run_is_persisted_with_settings_metrics_and_descriptions(demo_run):
    ws, _, run_id, _, steps, _ = demo_run
    fracs = [f for f, _ in steps]
    assert fracs == sorted(fracs) and fracs[-1] == 1.0
    said = " ".join(m for _, m in steps)
    for stage in ("Reading", "UMAP", "HDBSCAN", "Placing", "Describing", "Saving"):
        assert stage in said
    runs = segment_runs(ws)
    run = runs.set_index("run_id").loc[run_id]
    cfg, m = run["config"], run["metrics"]
    assert cfg["settings"] == {
        "preset": "fast",
        "min_size": 0,
        "assign_outliers": False,
        "seed": 42,
        "text_weight": 1.0,
        "behaviour_weight": 1.0,
        "unit": "auto",
    }
    assert cfg["strategy"] == "place" and cfg["inputs"]["text"] and cfg["inputs"]["behaviour"]
    assert {"discount_share", "price_level", "revenue"} <= set(cfg["inputs"]["behaviour_columns"])
    assert m["n"] == DEMO_CUSTOMERS and m["n_segments"] >= 4
    assert 0 <= m["noise_share"] < 0.2 and 0.3 < m["text_coverage"] < 0.8
    assert m["churn_source"] and {"reduce", "cluster", "total"} <= set(m["timings_s"])
    info = load_segment_info(ws, run_id)
    assert info["size"].sum() == DEMO_CUSTOMERS
    assert info["share"].sum() == pytest.approx(1.0)
    assert info["revenue_share"].sum() == pytest.approx(1.0)
    seg = info[info["segment_id"] >= 0]
    assert list(seg["segment_id"]) == list(range(len(seg)))
    assert seg["name"].is_unique and not seg["name"].str.startswith("Segment").any()
    assert seg["mean_clv"].notna().all() and seg["churn_rate"].between(0, 1).all()
    assert all(len(r) == 3 for r in seg["representatives"])
    assert all(len(k) >= 3 for k in seg["keywords"])
    # the unhappy-delivery customers form a segment named after delivery with a high churn rate
    worst = seg.loc[seg["churn_rate"].idxmax()]
    assert any(w in worst["name"].lower() for w in ("deliver", "arriv", "courier", "parcel", "wait"))


@pytest.mark.slow
def test_assign_outliers_keeps_the_flag_and_the_segments(demo_run):
    ws, cfg, first, _, _, _ = demo_run
    assigned = run_segmentation(ws, SegmentSettings(assign_outliers=True), model=cfg.model)
    a, b = _units(ws, first), _units(ws, assigned)
    assert (b["segment_id"] >= 0).all()
    assert (a["is_outlier"] == b["is_outlier"]).all()
    kept = a["segment_id"] >= 0
    anchors = a["unit_id"].isin(set(ws.query_df("SELECT customer_id FROM reviews")["customer_id"]))
    # reviewers keep their segment; customers placed by behaviour may follow assigned neighbours
    assert (a.loc[kept & anchors, "segment_id"] == b.loc[kept & anchors, "segment_id"]).all()
    info = load_segment_info(ws, assigned)
    assert -1 not in set(info["segment_id"])
    m = segment_runs(ws).set_index("run_id").loc[assigned, "metrics"]
    assert m["outlier_share"] == 0 and m["noise_share"] == pytest.approx(a["is_outlier"].mean(), abs=1e-4)


@pytest.mark.slow
def test_queries_and_figures_on_the_demo_run(demo_run):
    ws, _, run_id, _, _, _ = demo_run
    units = load_units(ws, run_id)
    assert len(units) == DEMO_CUSTOMERS and units["snippet"].notna().any()
    assert set(units["segment"].dropna()) <= set(load_segment_info(ws, run_id)["name"])
    timeline = segment_timeline(ws, run_id)
    assert timeline["reviews"].sum() == ws.scalar("SELECT count(*) FROM reviews WHERE trim(text) <> ''")
    info = load_segment_info(ws, run_id)
    fig = segment_map_figure(units)
    assert sum(len(t.x) for t in fig.data) == DEMO_CUSTOMERS
    assert {t.name for t in fig.data} <= {
        html_escape(f"{s} · {n}" if s >= 0 else n) for s, n in zip(info["segment_id"], info["name"])
    }
    assert len(clv_churn_figure(info).data[0].x) == (info["segment_id"] >= 0).sum()
    assert len(size_value_figure(info).to_dict()["data"]) == 2
    assert sentiment_timeline_figure(timeline, info, "mean_rating").to_dict()["data"]
    assert segment_aspects(ws, run_id).empty  # no review scores in this workspace


# ---------------------------------------------------------------------- input kinds


def _write_demo_part(tmp_path, kind: str, n: int = 400):
    store = generate_demo(seed=3, n_customers=n)
    path = tmp_path / f"{kind}.csv"
    getattr(store, kind).to_csv(path, index=False)
    return path


def test_reviews_without_customer_ids_segment_each_review(ws, tmp_path):
    src = pd.read_csv(shared("womens_clothing_reviews/womens_clothing_ecommerce_reviews.csv.gz"), nrows=400)
    src.loc[0, "Review Text"] = XSS + " love the fabric"
    path = tmp_path / "clothing.csv"
    src.to_csv(path, index=False)
    load_file(ws, path, "reviews")
    assert ws.scalar("SELECT count(*) FROM reviews WHERE customer_id IS NOT NULL") == 0
    run_id = run_segmentation(ws, SegmentSettings(min_size=15), encoder=BowEncoder())
    u = _units(ws, run_id)
    n_text = ws.scalar("SELECT count(*) FROM reviews WHERE trim(text) <> ''")
    assert len(u) == n_text and set(u["unit_kind"]) == {"review"}
    assert set(u["unit_id"]) == set(
        ws.query_df("SELECT review_id FROM reviews WHERE trim(text) <> ''")["review_id"]
    )
    info = load_segment_info(ws, run_id)
    assert info["revenue_share"].isna().all() and info["mean_clv"].isna().all()
    assert (info.loc[info["segment_id"] >= 0, "keywords"].map(len) > 0).all()
    cfg = segment_runs(ws).iloc[0]["config"]
    assert cfg["unit_kind"] == "review" and cfg["strategy"] == "single"
    assert cfg["feature_names"][0] == "text_0" and "text_missing" in cfg["feature_names"]
    units = load_units(ws, run_id)
    assert units["snippet"].notna().all()
    hover = _figure_text(segment_map_figure(units))
    assert "<img" not in hover and "&lt;img" in hover


def test_orders_only_names_segments_by_behaviour(ws, tmp_path):
    load_file(ws, _write_demo_part(tmp_path, "orders"), "orders")
    steps: list[str] = []
    cfg = load_config(env={}, customers__churn_horizon_days=60)
    run_id = run_named(
        "segments", ws, cfg, lambda f, m: steps.append(m), settings=SegmentSettings(), encoder=BowEncoder()
    ).run_id
    assert any("profiles" in s for s in steps)  # the stage's needs: computed first, none existed
    assert latest(ws, "profiles").config["churn_horizon_days"] == 60  # with the given settings
    cfg = segment_runs(ws).iloc[0]["config"]
    assert cfg["strategy"] == "single" and not cfg["inputs"]["text"]
    info = load_segment_info(ws, run_id)
    seg = info[info["segment_id"] >= 0]
    assert len(seg) >= 2 and seg["keywords"].map(len).eq(0).all()
    assert all(t for t in seg["traits"]) and not seg["name"].str.startswith("Segment").all()
    assert info["mean_clv"].notna().any() and info["representatives"].map(len).eq(0).all()


def _score_reviews(ws) -> None:
    """A review-scoring run written by hand: 'delivery' / 'fit' aspects from keywords."""
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO runs VALUES ('rs_1', 'review_scores', 'x', '{}', now(), now(), 'done', '{}')"
        )
        cur.execute("""INSERT INTO review_scores (run_id, dataset_id, review_id, model_id,
            sentiment_method, sentiment, sentiment_score, aspects, aspect_sentiment_json)
            SELECT 'rs_1', dataset_id, review_id, 'm', 'supervised', 'neutral', (rating - 3) / 2,
                   list_filter(['delivery', 'fit'], lambda a: CASE a
                       WHEN 'delivery' THEN regexp_matches(lower(text), 'deliver|arriv|courier')
                       ELSE regexp_matches(lower(text), 'size|sizing|fit') END),
                   '{"delivery": -0.8, "fit": -0.2}'
            FROM reviews""")


def test_reviews_with_customer_ids_and_scores_no_orders(ws, tmp_path):
    load_file(ws, _write_demo_part(tmp_path, "reviews", 600), "reviews")
    _score_reviews(ws)
    run_id = run_segmentation(ws, SegmentSettings(), encoder=BowEncoder())
    u = _units(ws, run_id)
    assert set(u["unit_kind"]) == {"customer"}
    assert len(u) == ws.scalar("SELECT count(DISTINCT customer_id) FROM reviews")
    info = load_segment_info(ws, run_id)
    assert info["revenue_share"].isna().all() and info["mean_sentiment"].notna().all()
    delivery = info[
        info["top_aspects"].map(
            lambda a: (
                bool(a) and a[0]["aspect"] == "delivery" and a[0]["share"] >= 0.3 and a[0]["lift"] >= 1.5
            )
        )
    ]
    assert len(delivery) and delivery["name"].str.startswith("Delivery — ").all()
    assert delivery["top_aspects"].iloc[0][0]["sentiment"] == pytest.approx(-0.8)
    assert delivery["mean_sentiment"].max() < info["mean_sentiment"].max()
    aspects = segment_aspects(ws, run_id)
    assert set(aspects["aspect"]) == {"delivery", "fit"} and aspects["share"].between(0, 1).all()
    by_month = segment_aspects(ws, run_id, by_month=True)
    assert by_month["mentions"].sum() == aspects["mentions"].sum()
    assert segment_timeline(ws, run_id)["mean_sentiment"].notna().any()
    assert aspect_heatmap_figure(aspects, info).data[0].z.shape[1] == 2


def test_bad_settings_and_empty_workspace_give_plain_messages(ws):
    with pytest.raises(ValueError, match="preset"):
        run_segmentation(ws, SegmentSettings(preset="turbo"))
    with pytest.raises(ValueError, match="minimum segment size"):
        run_segmentation(ws, SegmentSettings(min_size=1))
    with pytest.raises(ValueError, match="at least one"):
        run_segmentation(ws, SegmentSettings(text_weight=0, behaviour_weight=0))
    with pytest.raises(ValueError, match="need at least"):
        run_segmentation(ws, SegmentSettings(), encoder=BowEncoder())
    assert ws.scalar("SELECT count(*) FROM runs WHERE stage = 'segments'") == 0


# ---------------------------------------------------------------------- units


def test_neighbour_placer_votes_and_positions():
    rng = np.random.default_rng(0)
    A = np.vstack([rng.normal(0, 0.1, (30, 2)), rng.normal(5, 0.1, (30, 2))])
    lab = np.repeat([0, 1], 30)
    raw = lab.copy()
    raw[:20] = -1  # most of segment 0 was HDBSCAN noise, later assigned
    xy = A * 10
    p = NeighbourPlacer(n_neighbors=5).fit(A, lab, raw, xy).place(np.array([[0.0, 0.0], [5, 5]]))
    assert p.labels.tolist() == [0, 1] and p.raw_labels.tolist() == [-1, 1]
    assert np.allclose(p.probability, 1.0)
    assert np.allclose(p.xy, [[0, 0], [50, 50]], atol=2.0)
    with pytest.raises(ValueError, match="columns"):
        NeighbourPlacer().fit(A, lab).place(np.zeros((1, 3)))


def test_figures_escape_user_strings():
    info = pd.DataFrame(
        {
            "segment_id": [0, 1, -1],
            "name": [XSS, "ok & fine", "Outliers"],
            "size": [5, 3, 1],
            "share": [0.55, 0.33, 0.12],
            "revenue_share": [0.6, 0.3, 0.1],
            "mean_clv": [100.0, 50.0, 10.0],
            "churn_rate": [0.1, 0.5, 0.3],
        }
    )
    units = pd.DataFrame(
        {
            "unit_id": [XSS, "b", "c"],
            "segment_id": [0, 1, -1],
            "x": [0, 1, 2],
            "y": [0, 1, 2],
            "segment": [XSS, "ok & fine", "Outliers"],
            "snippet": [XSS + " text", None, "plain"],
        }
    )
    aspects = pd.DataFrame(
        {"segment_id": [0, 1], "aspect": [XSS, "fit"], "mentions": [2, 1], "share": [0.4, 0.2]}
    )
    months = pd.to_datetime(["2026-01-01", "2026-02-01"])
    timeline = pd.DataFrame({"month": months, "segment_id": [0, 0], "mean_sentiment": [0.1, -0.2]})
    by_month = pd.DataFrame(
        {"month": months, "segment_id": [0, 0], "aspect": [XSS, XSS], "mentions": [1, 2], "share": [0.5, 0.7]}
    )
    figs = [
        segment_map_figure(units),
        size_value_figure(info),
        clv_churn_figure(info),
        aspect_heatmap_figure(aspects, info),
        sentiment_timeline_figure(timeline, info),
        aspect_timeline_figure(by_month, 0, XSS),
    ]
    for fig in figs:
        text = _figure_text(fig)
        assert "<img" not in text, text[:300]
    assert "&lt;img" in _figure_text(figs[0])
    heat = figs[3].data[0]
    assert heat.z[0][list(heat.x).index("fit")] == 0.0


def test_cli_segment_command(tmp_path, capsys):
    from cx_core.cli.main import main
    from cx_core.config import load_config
    from cx_core.store.db import Workspace

    db = str(tmp_path / "cli.duckdb")
    w = Workspace.open(load_config(env={}, db__path=db).db)
    load_file(w, _write_demo_part(tmp_path, "orders"), "orders")
    w.close()
    assert main(["--db", db, "segment", "--min-size", "20", "--seed", "3", "--assign-outliers"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("run_id: seg_") and "Done" in err and "HDBSCAN" in err
    assert main(["--db", db, "segment", "--min-size", "1"]) == 2
    assert "minimum segment size" in capsys.readouterr().err
    w = Workspace.open(load_config(env={}, db__path=db).db)
    cfg = segment_runs(w).iloc[0]["config"]["settings"]
    assert (cfg["min_size"], cfg["seed"], cfg["assign_outliers"]) == (20, 3, True)
    w.close()
