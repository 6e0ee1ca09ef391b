"""Model page: both training modes offered with their estimated time here; the mode that won on
these reviews is preselected."""

from __future__ import annotations

from datetime import datetime

import pytest
from streamlit.testing.v1 import AppTest

from cx_core.config import load_config
from cx_core.reviews.store import record_training
from cx_core.reviews.testing import tiny_encoder_dir
from cx_core.store.db import Workspace
from cx_core.text.speed import record_rate
from tests.conftest import ROOT
from tests.review_fixtures import review_app_env


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> str:
    return tiny_encoder_dir(tmp_path_factory.mktemp("enc_modes"))


def _open(tmp_path) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/model.py").run()
    assert not at.exception, at.exception
    return at


def _modes(at: AppTest):
    return next(d.value for d in at.dataframe if "estimated time here" in d.value.columns)


def test_modes_with_estimates_and_the_winner_preselected(tmp_path, monkeypatch, tiny_dir):
    review_app_env(tmp_path, monkeypatch, tiny_dir)
    at = _open(tmp_path)
    table = _modes(at)
    assert list(table["mode"]) == ["frozen", "finetune"]
    assert table["estimated time here"].str.startswith("time measured").all()  # nothing measured yet
    assert at.selectbox(key="train_mode").value == "frozen"
    cfg = load_config()
    ws = Workspace.open(cfg.db)
    from cx_core.text.embeddings import make_encoder

    record_rate(ws, make_encoder(cfg.model).identify(), "cpu", 1000, 10.0)  # 100 texts/s measured
    for mode, f1 in (("frozen", 0.61), ("finetune", 0.68)):
        metrics = {"sentiment": {"macro_f1": f1, "accuracy": 0.8}, "train_s": 12.0, "train_texts": 120}
        record_training(ws, f"rm_{mode}", tmp_path / mode, "all", {"mode": mode}, metrics, datetime.now())
    ws.close()
    at = _open(tmp_path)
    table = _modes(at)
    assert table["estimated time here"].str.startswith("about").all()
    assert list(table["won on this data"]) == ["", "✓"] and list(table["last macro-F1"]) == ["0.610", "0.680"]
    pick = at.selectbox(key="train_mode")
    assert pick.value == "finetune" and any("about" in o for o in pick.options)
