"""No personal data in generated text: a group of customers who all write the same phone number and
email address gets neither (nor pieces such as ``07700`` or ``example``) in its segment name, its
keywords, the masked export or the HTML report."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from cx_core.cluster import CTfidfRepresentation
from cx_core.ingest.pii_scrub import TOKEN_PATTERN, is_pii_word, mask_generated, scrub_pii
from cx_core.insight.export import export_frame, export_segments
from cx_core.insight.report import build_report
from cx_core.segments.describe import segment_name
from cx_core.segments.run import SegmentSettings, load_segment_info, run_segmentation
from tests.segment_helpers import BowEncoder
from tests.themes.test_themes import insert_reviews

PLANT = "call me on 07700 900123 or mail john.smith@example.com"
#: pieces of the planted phone and email that must never appear in generated text
PIECES = ("07700", "900123", "john", "smith", "example", "7700")
TOPICS = {
    "delivery": "the parcel arrived late and the courier lost the tracking",
    "fit": "the size was small and tight around the waist, sizing runs large",
    "service": "the support agent was rude and the refund took weeks to arrive",
}


def planted_texts(n: int = 60) -> list[str]:
    """Three topics; every review of the service topic carries the same phone and email."""
    rng = np.random.default_rng(0)
    out = []
    for topic, text in TOPICS.items():
        words = text.split()
        for i in range(n):
            body = " ".join(rng.choice(words, 8))
            out.append(f"{body}. {PLANT}" if topic == "service" else body)
    return out


def assert_clean(text: str, where: str, generated: bool = False) -> None:
    """No piece of the planted contact in ``text`` (generated text: not even a masked ``@``)."""
    low = text.lower()
    for piece in PIECES + (("@",) if generated else ()):
        assert piece not in low, (where, piece, text[:300])


@pytest.mark.parametrize(
    "text, scrubbed",
    [
        (PLANT, "call me on   or mail  "),
        ("ring +44 (0)20 7946 0958 now", "ring   now"),
        ("order 1234567 and 555-1234", "order   and  "),
        ("mail ann @ example.org today", "mail   today"),
        ("iphone 12 pro, 2 stars, 1234", "iphone 12 pro, 2 stars, 1234"),
        (None, ""),
    ],
)
def test_scrub_removes_emails_phones_and_long_digit_runs(text, scrubbed):
    assert scrub_pii(text) == scrubbed


def test_mask_generated_and_pii_words():
    assert mask_generated("Service — example, 07700 & 07700 900123") == "Service — example, ••••• & •••••"
    assert mask_generated("mail j.smith@example.com") == "mail j•••@e•••.com"
    assert mask_generated("late delivery & refund") == "late delivery & refund"
    assert all(is_pii_word(w) for w in ("07700", "07700 900123", "smith@example", "a123456"))
    assert not any(is_pii_word(w) for w in ("refund", "iphone 12", "1234"))
    import re

    assert not re.fullmatch(TOKEN_PATTERN, "abc12345") and re.fullmatch(TOKEN_PATTERN, "size12")


def test_ctfidf_vocabulary_never_holds_the_planted_contact():
    texts = planted_texts()
    labels = np.repeat([0, 1, 2], 60)
    rep = CTfidfRepresentation(top_k=10).fit(texts, labels)
    for word in rep.vocabulary_:
        assert_clean(str(word), "vocabulary", generated=True)
    for seg, words in rep.top_words_.items():
        assert_clean(" ".join(w for w, _ in words), f"keywords {seg}", generated=True)
        assert_clean(rep.names_[seg], f"name {seg}", generated=True)
    raw = CTfidfRepresentation(top_k=10, scrub_pii=False).fit(texts, labels)  # the test is real:
    assert any(p in " ".join(raw.vocabulary_) for p in ("07700", "example", "john"))  # unscrubbed


def test_segment_name_masks_what_slips_through():
    name = segment_name(2, ["example", "07700", "07700 900123"], [], [])
    assert "07700" not in name and "900123" not in name


@pytest.fixture
def planted_run(ws):
    """Review-level segmentation of the planted reviews (bag-of-words encoder)."""
    insert_reviews(ws, planted_texts())
    run_id = run_segmentation(ws, SegmentSettings(min_size=15), encoder=BowEncoder())
    return ws, run_id


def test_segment_names_keywords_export_and_report_hold_no_contact_details(planted_run):
    ws, run_id = planted_run
    info = load_segment_info(ws, run_id)
    assert (info["segment_id"] >= 0).sum() >= 2
    for r in info.itertuples():
        assert_clean(r.name, f"segment {r.segment_id} name", generated=True)
        assert_clean(" ".join(r.keywords), f"segment {r.segment_id} keywords", generated=True)
    frame = export_frame(ws, run_id)  # masked
    assert_clean(" ".join(frame["segment_name"]), "masked export names", generated=True)
    assert_clean(" ".join(frame["review_text"].dropna()), "masked export review text")
    csv_text = export_segments(ws, run_id, "csv").decode("utf-8")
    assert_clean(csv_text, "masked CSV")
    back = pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)
    assert len(back) == 180
    html = build_report(ws, mask_pii=True)
    body = html[html.index("<body>") :]
    assert_clean(body.replace("onerror=alert", ""), "HTML report")
    unmasked = build_report(ws, mask_pii=False)  # review quotes are data: shown when asked
    assert "07700 900123" in unmasked[unmasked.index("<body>") :]
