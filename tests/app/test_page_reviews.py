"""Reviews page under AppTest: score with a button, filter, hostile text stays text, data changed since
scoring."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from cx_core.ingest.load import load_file
from cx_core.reviews.testing import tiny_encoder_dir
from tests.app_fixtures import open_page, page_env
from tests.conftest import ROOT
from tests.review_fixtures import review_app_env, score_all


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> str:
    return tiny_encoder_dir(tmp_path_factory.mktemp("enc"))


def test_score_filter_and_escape(tmp_path, monkeypatch, tiny_dir):
    review_app_env(tmp_path, monkeypatch, tiny_dir)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.run()
    at.switch_page("pages/reviews.py").run()
    assert not at.exception, at.exception
    assert any("No review scores yet" in i.value for i in at.info)
    at.button(key="score_reviews").click().run()  # trains a model first, then scores
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Scored reviews"] == "150"
    table = at.dataframe[0].value
    assert len(table) == 150 and list(table)[0] == "Review"  # what the customer wrote comes first
    assert {"Sentiment", "Sentiment (−1 to +1)", "Aspects", "Complaint risk (%)"} <= set(table)
    assert not {"Review id", "Dataset id", "Sentiment method"} & set(table)  # behind a toggle
    assert table["Review"].str.contains("<img", regex=False).any()  # shown as text in the grid
    at.toggle(key="reviews_table_ids").set_value(True).run()
    assert set(at.dataframe[0].value["Sentiment method"]) == {"supervised"}
    assert any("none computed yet" in c.value for c in at.caption)  # no segments yet
    for el in [*at.markdown, *at.caption, *at.success, *at.warning, *at.error, *at.info]:
        assert "<img" not in el.value, el.value
    at.multiselect(key="rv_sentiment").set_value(["negative"]).run()
    neg = at.dataframe[0].value
    assert set(neg["Sentiment"]) <= {"negative"} and len(neg) < 150
    at.multiselect(key="rv_sentiment").set_value([]).run()
    at.slider(key="rv_score").set_value((0.0, 1.0)).run()
    assert (at.dataframe[0].value["Sentiment (−1 to +1)"] >= 0).all()


def test_reviews_page_says_data_changed(tmp_path, monkeypatch, cfg, ws):
    p = tmp_path / "a.csv"
    p.write_text("id,text\n1,great fit\n2,too small\n")
    load_file(ws, p, "reviews")
    score_all(ws)
    page_env(tmp_path, monkeypatch)
    at = open_page("pages/reviews.py")
    assert not any("Data changed" in w.value for w in at.warning)
    q = tmp_path / "b.csv"
    q.write_text("id,text\n8,lovely colour\n")
    load_file(ws, q, "reviews")
    at.run()
    assert any(
        "Data changed since these scores were computed: 1 review is not scored yet" in w.value
        and "Score again" in w.value
        for w in at.warning
    )
