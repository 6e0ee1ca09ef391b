"""Reviews page under AppTest: score with a button, filter, hostile text stays text."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from cx_core.reviews.testing import tiny_encoder_dir
from tests.conftest import ROOT
from tests.review_fixtures import XSS, review_app_env


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
    assert len(table) == 150 and {"sentiment", "method", "score", "aspects", "risk"} <= set(table)
    assert set(table["method"]) == {"supervised"}
    assert table["text"].str.contains("<img", regex=False).any()  # shown as text in the grid
    assert any("none computed yet" in c.value for c in at.caption)  # no segments yet
    for el in [*at.markdown, *at.caption, *at.success, *at.warning, *at.error, *at.info]:
        assert "<img" not in el.value, el.value
    at.multiselect(key="rv_sentiment").set_value(["negative"]).run()
    neg = at.dataframe[0].value
    assert set(neg["sentiment"]) <= {"negative"} and len(neg) < 150
    at.multiselect(key="rv_sentiment").set_value([]).run()
    at.slider(key="rv_score").set_value((0.0, 1.0)).run()
    assert (at.dataframe[0].value["score"] >= 0).all()
