"""Model page under AppTest: train with a button, evaluation ours vs baseline, taxonomy editor, the
dataset picker with file names."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from cx_core.ingest.load import load_file
from cx_core.reviews.testing import tiny_encoder_dir
from tests.app_fixtures import open_page, page_env
from tests.conftest import ROOT
from tests.review_fixtures import XSS, review_app_env


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> str:
    return tiny_encoder_dir(tmp_path_factory.mktemp("enc"))


def _no_raw_html(at: AppTest) -> None:
    for el in [*at.markdown, *at.caption, *at.success, *at.warning, *at.error, *at.info]:
        assert "<img" not in el.value, el.value


def test_train_evaluate_and_edit_taxonomy(tmp_path, monkeypatch, tiny_dir):
    review_app_env(tmp_path, monkeypatch, tiny_dir)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.run()
    at.switch_page("pages/model.py").run()
    assert not at.exception, at.exception
    assert any("No model trained yet" in i.value for i in at.info)
    next(b for b in at.button if b.label == "Train model").click().run()
    assert not at.exception, at.exception
    assert any("Trained model" in s.value for s in at.success)
    table = next(d.value for d in at.dataframe if "head" in d.value.columns)
    assert {"sentiment", "rating", "aspects", "risk"} <= set(table["head"])
    assert table["model"].str.startswith("TF-IDF").any()
    assert table["model"].str.contains("balanced class weights, C by CV), C = ", regex=False).any()
    per_class = next(d.value for d in at.dataframe if "class" in d.value.columns)  # ours and baseline
    assert set(per_class["model"]) == {"ours", "baseline"}
    assert set(per_class["class"]) == {"negative", "neutral", "positive"}
    # the industry starter lists with their coverage; picking another replaces the list
    starters = next(d.value for d in at.dataframe if "coverage" in d.value.columns)
    assert len(starters) == 6 and starters["in use"].eq("✓").sum() == 1
    at.selectbox(key="starter_pick").set_value("travel & hotels").run()
    at.button(key="starter_use").click().run()
    assert not at.exception, at.exception
    assert "room" in at.selectbox(key="remove_aspect").options
    # taxonomy: a hostile name is refused with an escaped message; hostile seeds are stored as text
    at.text_input[0].set_value(XSS)
    at.text_input[1].set_value("strap, buckle")
    next(b for b in at.button if b.label == "Add or update aspect").click().run()
    assert any("aspect name" in e.value for e in at.error)
    at.text_input[0].set_value("hardware")
    at.text_input[1].set_value(f"zipper, {XSS}")
    next(b for b in at.button if b.label == "Add or update aspect").click().run()
    assert not at.exception, at.exception
    assert any("hardware" in s.value for s in at.success)
    _no_raw_html(at)
    at.selectbox(key="remove_aspect").set_value("hardware").run()
    at.button(key="remove_aspect_btn").click().run()
    assert "hardware" not in at.selectbox(key="remove_aspect").options


def test_model_page_picker_and_taxonomy(tmp_path, monkeypatch, cfg, ws):
    p = tmp_path / "clothing.csv"
    p.write_text("id,text,rating\n1,great fit,5\n2,too small,2\n")
    rep = load_file(ws, p, "reviews")
    page_env(tmp_path, monkeypatch)
    at = open_page("pages/model.py")
    picker = next(s for s in at.selectbox if s.label == "Reviews")
    assert f"clothing.csv (2 rows, {rep.dataset_id})" in picker.options
    assert picker.value == "all reviews"
    seeds = at.dataframe[-1].value["seeds"]
    assert len(seeds) > 3 and not seeds.str.startswith("[").any()
