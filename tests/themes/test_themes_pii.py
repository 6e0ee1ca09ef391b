"""No personal data in theme names or keywords: a topic whose reviews all carry the same phone number
and email address is found as a theme, named by its words, never by the contact details."""

from __future__ import annotations

from cx_core.themes.run import ThemeSettings, discover_themes, load_themes
from tests.segments.test_segment_names_pii import PLANT, assert_clean
from tests.themes.test_themes import insert_reviews, planted_corpus


def test_theme_names_and_keywords_hold_no_contact_details(ws):
    texts, truth, enc = planted_corpus()
    for i in range(len(texts)):
        if truth[i] == 2:  # every review of one topic carries the same phone and email
            old, texts[i] = texts[i], f"{texts[i]} {PLANT}"
            enc.vectors[texts[i]] = enc.vectors.pop(old)
    insert_reviews(ws, texts)
    run_id = discover_themes(ws, ThemeSettings(seed=3), encoder=enc)
    themes = load_themes(ws, run_id)
    assert (themes["theme_id"] >= 0).sum() == 3
    for r in themes.itertuples():
        assert_clean(r.name, f"theme {r.theme_id} name", generated=True)
        assert_clean(" ".join(r.keywords), f"theme {r.theme_id} keywords", generated=True)
        assert_clean(r.keywords_json, f"theme {r.theme_id} keywords_json", generated=True)
