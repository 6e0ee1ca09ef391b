"""Measured encoding speed kept for estimates."""

from __future__ import annotations

from cx_core.text.embeddings import embed_reviews, text_hash
from cx_core.text.speed import Estimate, estimate, record_rate
from tests.segment_helpers import BowEncoder


def test_estimate_from_the_rate_measured_before(ws):
    with ws.write() as cur:
        for i in range(100):
            t = f"text {i} about fit"
            cur.execute(
                "INSERT INTO reviews (dataset_id, review_id, text, text_hash) VALUES ('d', ?, ?, ?)",
                [str(i), t, text_hash(t)],
            )
    enc = BowEncoder()
    first = estimate(ws, enc.identify())
    assert first == Estimate(100, None, None) and "first run measures" in first.describe()
    record_rate(ws, enc.identify(), "cpu", 10, 1.0)  # too small a batch to mean anything
    assert estimate(ws, enc.identify()).rate is None
    record_rate(ws, enc.identify(), "cpu", 200, 20.0)
    est = estimate(ws, enc.identify())
    assert est.rate == 10.0 and est.seconds == 10.0
    assert est.describe() == "about 10 s on this CPU to embed 100 review texts (measured 10.0 texts/s)."
    embed_reviews(ws, enc)
    after = estimate(ws, enc.identify())
    assert after.texts == 0 and after.describe() == "Every review text is already embedded."
    assert after.rate and after.rate != 10.0  # the real run recorded its own rate
