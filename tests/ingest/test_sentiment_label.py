"""The optional sentiment label field of reviews: mapping, normalisation at load, schema upgrade."""

from __future__ import annotations

import pytest

from cx_core.ingest.load import load_file
from cx_core.ingest.mapping import suggest_mapping
from cx_core.store.db import Workspace
from cx_core.store.schema import ensure_schema


def _load(ws: Workspace, tmp_path, values: list[str], name: str = "lab.csv") -> list:
    path = tmp_path / name
    rows = "\n".join(f"text {i} {v},{v}" for i, v in enumerate(values))
    path.write_text("sentence,label\n" + rows + "\n", encoding="utf-8")
    rep = load_file(ws, path, "reviews", dry_run=False)
    assert rep.mapping["label"] == "label" and rep.mapping["text"] == "sentence"
    return ws.query_df("SELECT label FROM reviews WHERE dataset_id = ? ORDER BY review_id", [rep.dataset_id])[
        "label"
    ].tolist()


@pytest.mark.parametrize(
    "values,expected",
    [
        (["0", "1", "1"], ["negative", "positive", "positive"]),  # binary 0/1
        (["-1", "0", "1"], ["negative", "neutral", "positive"]),  # -1/0/1
        (["-1", "1", "1"], ["negative", "positive", "positive"]),  # -1/1
        (["0", "1", "2"], ["negative", "neutral", "positive"]),  # 0/1/2
        (["Positive", "NEG", "neutral"], ["positive", "negative", "neutral"]),  # words, any case
        (["pos", "neg", "meh"], ["positive", "negative", None]),  # unknown word: NULL
        (["1", "3", "5"], [None, None, None]),  # stars are no label
    ],
)
def test_label_values_are_normalised(ws, tmp_path, values, expected):
    got = _load(ws, tmp_path, values)
    assert [None if v is None or v != v else v for v in got] == expected


def test_label_is_suggested_and_optional():
    assert suggest_mapping("reviews", ["Review Text", "Sentiment"])["label"] == "Sentiment"
    assert suggest_mapping("reviews", ["Review Text", "Rating"])["label"] is None


def test_old_workspace_gains_label_column(tmp_path):
    ws = Workspace(str(tmp_path / "old.duckdb"))
    with ws.write() as cur:
        cur.execute(
            "CREATE TABLE reviews (dataset_id VARCHAR NOT NULL, review_id VARCHAR NOT NULL, "
            "customer_id VARCHAR, ts TIMESTAMP, title VARCHAR, text VARCHAR NOT NULL, "
            "rating DOUBLE, item VARCHAR, category VARCHAR, text_hash VARCHAR NOT NULL)"
        )
        cur.execute("INSERT INTO reviews VALUES ('d', 'r1', NULL, NULL, NULL, 'ok', 4, NULL, NULL, 'h')")
    ensure_schema(ws)
    assert ws.query_one("SELECT text, label FROM reviews") == ("ok", None)
    ws.close()
