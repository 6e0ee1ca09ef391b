"""Per-review explanations on tiny random BERTs (fast): completeness, words, escaping, cache."""

from __future__ import annotations

import html as _html
import re
import threading
import warnings

import plotly.graph_objects as go
import pytest
import torch

from cx_core.explain.cache import attention_cached, explain_cached, lookup
from cx_core.explain.integrated import (
    ExplainError,
    Explanation,
    IGSettings,
    LayerTap,
    encode_review,
    explain_review,
    pad_baseline,
)
from cx_core.explain.protocol import ExplainableModel
from cx_core.explain.reference import EncoderHeadModel, tiny_bert
from cx_core.explain.render import display_text, to_html, top_words_figure
from cx_core.explain.rollout import explain_attention, rollout
from cx_core.explain.words import content_words, merge_pieces, word_spans
from cx_core.text.embeddings import text_hash
from cx_core.text.encoder import default_model_dir

XSS = "<img src=x onerror=alert(1)>"
BREAKOUT = '"><script>alert(2)</script>'
TEXT = "The fabric felt cheap and the zipper broke, but delivery was quick. Would not buy again!"


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)


@pytest.fixture(scope="module")
def model(tokenizer):
    """Tiny random BERT + lexical layer: two attribution layers, multiclass + multilabel heads."""
    torch.manual_seed(0)
    return EncoderHeadModel(
        tiny_bert(tokenizer),
        tokenizer,
        {"sentiment": ["negative", "neutral", "positive"], "aspects": ["fit", "price", XSS]},
        {"sentiment": "multiclass", "aspects": "multilabel"},
        max_length=64,
        lexical_dim=8,
        seed=1,
    )


def test_reference_model_implements_the_protocol(model):
    assert isinstance(model, ExplainableModel)
    assert len(model.attribution_layers()) == 2


def test_completeness_multi_layer(model):
    e = explain_review(model, TEXT, "sentiment", n_steps=32, segments=2, max_steps=32)
    with torch.no_grad():
        logit = float(model.forward_logits(*_ids(model, TEXT))["sentiment"][0, e.target_index])
    assert e.logit == pytest.approx(logit, abs=1e-5)
    # attributions - delta == F(x) - F(baseline) exactly (delta = sum - gap); delta small
    assert e.total - e.delta == pytest.approx(e.logit - e.baseline_logit, abs=1e-6)
    assert abs(e.delta) <= 0.02 * max(abs(e.logit - e.baseline_logit), 0.05)
    assert set(e.layer_totals) == {"encoder.embeddings.word_embeddings", "lexical"}
    assert e.outside_gap == pytest.approx(0.0, abs=1e-6)
    # special tokens: same id in text and baseline, so nothing through either layer
    assert e.special_score == pytest.approx(0.0, abs=1e-9)


def test_one_segment_equals_captum_layer_integrated_gradients(model):
    from captum.attr import LayerIntegratedGradients

    e = explain_review(model, TEXT, "sentiment", n_steps=10, segments=1, max_steps=10)
    enc = encode_review(model, TEXT, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lig = LayerIntegratedGradients(
            lambda i, m: model.forward_logits(i, m)["sentiment"], model.attribution_layers()
        )
    attrs, delta = lig.attribute(
        enc.input_ids,
        baselines=pad_baseline(model, enc),
        target=e.target_index,
        additional_forward_args=(enc.attention_mask,),
        n_steps=10,
        return_convergence_delta=True,
    )
    ref = sum(a.sum(-1)[0].double() for a in attrs)
    ours = torch.tensor([p[3] for p in e.pieces], dtype=torch.float64)
    assert torch.allclose(ours, ref, atol=1e-6)
    assert e.delta == pytest.approx(float(delta), abs=1e-5)


def test_segments_double_until_the_delta_is_small(model):
    e = explain_review(model, TEXT, "sentiment", n_steps=2, segments=1, max_steps=64, rel_tol=1e-4)
    assert e.n_steps > 2
    loose = explain_review(model, TEXT, "sentiment", n_steps=4, segments=2, max_steps=64, rel_tol=10.0)
    assert loose.n_steps == 4


def test_targets_predicted_named_and_multilabel(model):
    with torch.no_grad():
        logits = model.forward_logits(*_ids(model, TEXT))
    e = explain_review(model, TEXT, "sentiment")
    assert e.target_index == int(logits["sentiment"].argmax())
    assert sum(e.outputs.values()) == pytest.approx(1.0, abs=1e-5)
    named = explain_review(model, TEXT, "sentiment", target="neutral")
    assert (named.target, named.target_index) == ("neutral", 1)
    multi = explain_review(model, TEXT, "aspects", target="price")
    assert multi.target == "price" and 0 < multi.outputs["price"] < 1
    assert multi.logit == pytest.approx(float(logits["aspects"][0, 1]), abs=1e-5)


@pytest.mark.parametrize(
    "text,head,target,msg",
    [
        ("   ", "sentiment", None, "no text"),
        (TEXT, "nope", None, "Unknown head"),
        (TEXT, "sentiment", "angry", "Unknown label"),
    ],
)
def test_clear_errors(model, text, head, target, msg):
    with pytest.raises(ExplainError, match=msg):
        explain_review(model, text, head, target)


def test_settings_are_validated():
    with pytest.raises(ValueError):
        IGSettings(n_steps=6, segments=4)
    with pytest.raises(ValueError):
        IGSettings(method="simpson")
    with pytest.raises(ValueError):
        IGSettings(n_steps=16, max_steps=8)
    assert IGSettings().key() != IGSettings(n_steps=16).key()


# -- words -------------------------------------------------------------------------------
def test_word_spans_on_tricky_text():
    text = "Très bien!! 😀 don't… l'été—okay?"
    words = [text[s:e] for s, e in word_spans(text)]
    assert words == ["Très", "bien", "!!", "😀", "don't", "…", "l'été", "—", "okay", "?"]


def test_pieces_merge_into_words_with_spans(model):
    text = "Très bien!! 😀 The zip-per isn't great… naïve café"
    e = explain_review(model, text, "sentiment")
    assert [w.text for w in e.words] == [text[w.start : w.end] for w in e.words]
    assert "Très" in [w.text for w in e.words] and "café" in [w.text for w in e.words]
    assert all(w.pieces >= 1 for w in e.words if w.text.isalpha())
    zipper = [w for w in e.words if w.text in ("zip", "per")]
    assert len(zipper) == 2
    total_words = sum(w.score for w in e.words if w.score is not None)
    assert total_words + e.special_score == pytest.approx(e.total, abs=1e-9)


def test_merge_pieces_assigns_by_start_and_marks_unseen():
    text = "good, bad"
    words, special = merge_pieces(
        text, [(0, 0), (0, 2), (2, 4), (4, 5), (0, 0)], [9.0, 1.0, 2.0, 0.5, -9.0], seen_until=5
    )
    assert [(w.text, w.score, w.pieces) for w in words] == [("good", 3.0, 2), (",", 0.5, 1), ("bad", None, 0)]
    assert special == 0.0


def test_long_text_is_truncated_with_a_note(model):
    text = " ".join(["wonderful dress"] * 60) + " but the LAST words"
    e = explain_review(model, text, "sentiment", max_length=16)
    assert e.truncated and e.n_tokens == 16
    assert e.words[-1].score is None and e.words[0].score is not None
    html = to_html(e)
    assert "only its first 16 tokens" in html and "not seen by the model" in html


# -- rendering ------------------------------------------------------------------------------
def test_html_escapes_hostile_review_and_labels(model):
    text = f"Great {XSS} dress {BREAKOUT} & more\nsecond line"
    for expl in (explain_review(model, text, "aspects", target=XSS), explain_attention(model, text, 64)):
        html = to_html(expl)
        assert "<img" not in html and "<script" not in html
        assert "&quot;" in html and "&lt;" in html  # the attribute breakout is inert
        body = html.split('<div class="cx-explain"', 1)[1].split("</div>", 1)[0]
        shown = re.sub(r"<[^>]+>", "", body.split(">", 1)[1].replace("<br>", "\n"))
        assert _html.unescape(shown) == text  # every character shown, as text
        assert "Convergence delta" in html or "attention" in html
    legend = to_html(explain_review(model, text, "aspects", target=XSS))
    assert "&lt;img src=x onerror=alert(1)&gt;" in legend


def test_colours_follow_sign_and_magnitude(model):
    e = explain_review(model, TEXT, "sentiment")
    html = to_html(e)
    assert "rgba(22,163,74" in html and "rgba(220,38,38" in html
    top = max(e.words, key=lambda w: abs(w.score))
    assert f"{0.8:.3f})" in html  # the strongest word gets the full alpha
    assert top.text in html


def test_figure_is_pure_and_escaped(model):
    text = f"awful {XSS} seams but lovely colour"
    e = explain_review(model, text, "sentiment")
    fig = top_words_figure(e, k=3)
    assert isinstance(fig, go.Figure)
    d = fig.to_dict()
    bar = d["data"][0]
    assert len(bar["x"]) == 3
    labels = d["layout"]["yaxis"]["ticktext"]
    assert all("<" not in t for t in labels)
    ranked = sorted((abs(w.score) for w in content_words(e.text, e.words)), reverse=True)[:3]
    assert sorted(map(abs, bar["x"]), reverse=True) == pytest.approx(ranked)


def test_top_words_never_list_punctuation_entities_or_special_tokens(model):
    text = "&quot;rude, rude, rude&quot; ... Worst service EVER!!! :) &#39;never&#39;"
    e = explain_review(model, text, "sentiment")
    labels = top_words_figure(e, k=30).to_dict()["layout"]["yaxis"]["ticktext"]
    assert labels and all(any(ch.isalnum() for ch in t) for t in labels)
    assert not {"quot", "&", ";", "#", "39", "...", "!!!", ":)", "[CLS]", "[SEP]"} & set(labels)
    assert {"rude", "Worst", "never"} <= set(labels)


def test_pii_is_blotted_in_display_only(model):
    text = "Call me on +44 20 7946 0958 or mail jane.doe@example.com about the dress"
    shown = display_text(text, True)
    assert len(shown) == len(text) and "jane" not in shown and "7946" not in shown
    e = explain_review(model, text, "sentiment")
    html = to_html(e, mask_pii=True)
    assert "jane" not in html and "7946" not in html and "dress" in html
    assert "jane" in to_html(e)
    labels = top_words_figure(e, k=30, mask_pii=True).to_dict()["layout"]["yaxis"]["ticktext"]
    assert not any("jane" in t for t in labels)


# -- attention -------------------------------------------------------------------------------
def test_rollout_maths():
    eye = torch.eye(4).expand(1, 2, 4, 4)
    assert torch.allclose(rollout([eye, eye]), torch.eye(4, dtype=torch.float64))
    uniform = torch.full((1, 2, 4, 4), 0.25)
    r = rollout([uniform])
    assert torch.allclose(r.sum(-1), torch.ones(4, dtype=torch.float64))
    assert r[0, 0] == pytest.approx(0.5 + 0.5 * 0.25)


def test_attention_view_restores_sdpa(model):
    enc = model.attention_encoder()
    assert enc.config._attn_implementation == "sdpa"
    e = explain_attention(model, TEXT, 64)
    assert enc.config._attn_implementation == "sdpa"
    assert sum(p[3] for p in e.pieces) == pytest.approx(1.0, abs=1e-6)
    assert all(w.score >= 0 for w in e.words)
    assert e.method == "attention_rollout" and e.delta is None


# -- thread isolation and cache ----------------------------------------------------------------
def test_layer_tap_only_affects_its_thread(model):
    ids, mask = _ids(model, TEXT)
    with torch.no_grad():
        plain = model.forward_logits(ids, mask)["sentiment"]
    out = {}
    layers = model.attribution_layers()
    with LayerTap(layers) as tap, torch.no_grad():
        tap.replace = [torch.zeros(1, ids.shape[1], 32), torch.zeros(1, ids.shape[1], 8)]
        t = threading.Thread(target=lambda: out.setdefault("x", model.forward_logits(ids, mask)["sentiment"]))
        t.start()
        t.join()
        mine = model.forward_logits(ids, mask)["sentiment"]
    assert torch.allclose(out["x"], plain)
    assert not torch.allclose(mine, plain)


def test_cache_hit_and_label_key(ws, model):
    model.model_id_ = "test-model"
    first = explain_cached(ws, model, TEXT, "sentiment")
    assert not first.hit
    again = explain_cached(ws, model, TEXT, "sentiment")
    assert again.hit and again.explanation.to_dict() == first.explanation.to_dict()
    by_label = explain_cached(ws, model, TEXT, "sentiment", first.explanation.target)
    assert by_label.hit
    assert lookup(ws, "test-model", text_hash(TEXT), "sentiment", "", IGSettings().key())
    other = explain_cached(ws, model, TEXT, "sentiment", settings=IGSettings(n_steps=4))
    assert not other.hit
    att = attention_cached(ws, model, TEXT, 64)
    assert not att.hit and attention_cached(ws, model, TEXT, 64).hit


def test_untrained_models_are_not_cached(ws, model):
    model.model_id_ = "untrained"
    explain_cached(ws, model, TEXT, "sentiment")
    assert not explain_cached(ws, model, TEXT, "sentiment").hit
    assert ws.scalar("SELECT count(*) FROM explanations WHERE model_id = 'untrained'") == 0


def test_explanation_round_trips_json(model):
    import json

    e = explain_review(model, TEXT, "aspects")
    back = Explanation.from_dict(json.loads(json.dumps(e.to_dict())))
    assert back == e


def _ids(model, text):
    enc = encode_review(model, text, 64)
    return enc.input_ids, enc.attention_mask


def test_browse_reviews_scores_and_models(ws, tmp_path):
    import json
    from datetime import datetime

    from cx_core.explain.browse import pick_reviews, review_scores_row, trained_models

    now = datetime.now()
    with ws.write() as cur:
        for rid, text in [("a1", "Love it"), ("a2", "100% awful_fit"), ("a3", "  ")]:
            cur.execute(
                "INSERT INTO reviews (dataset_id, review_id, text, text_hash) VALUES ('d', ?, ?, ?)",
                [rid, text, text_hash(text)],
            )
        for rid, score in [("a1", 0.9), ("a2", -0.8)]:
            cur.execute(
                "INSERT INTO review_scores (run_id, dataset_id, review_id, model_id, "
                "sentiment_method, sentiment, sentiment_score, risk) VALUES "
                "('s1', 'd', ?, 'm1', 'supervised', 'x', ?, 0.1)",
                [rid, score],
            )
        cur.execute(
            "INSERT INTO runs VALUES ('s1', 'review_scores', 'all', ?, ?, ?, 'done', '{}')",
            [json.dumps({"model_id": "m1"}), now, now],
        )
        (tmp_path / "m_ok").mkdir()
        (tmp_path / "m_ok" / "config.json").write_text("{}")
        for run_id, folder in [("m_ok", tmp_path / "m_ok"), ("m_gone", tmp_path / "gone")]:
            cur.execute(
                "INSERT INTO runs VALUES (?, 'review_model', 'all', ?, ?, ?, 'done', '{}')",
                [run_id, json.dumps({"model_dir": str(folder)}), now, now],
            )
    from cx_core.store.runs import latest

    assert latest(ws, "review_scores").run_id == "s1"
    assert pick_reviews(ws)["review_id"].tolist() == ["a1", "a2"]  # empty text left out
    scored = pick_reviews(ws, run_id="s1")
    assert scored["review_id"].tolist() == ["a2", "a1"]  # most negative first
    assert pick_reviews(ws, "a1")["review_id"].tolist() == ["a1"]
    assert pick_reviews(ws, "100%")["review_id"].tolist() == ["a2"]  # no LIKE wildcards
    assert pick_reviews(ws, "AWFUL_")["review_id"].tolist() == ["a2"]
    assert review_scores_row(ws, "s1", "d", "a2")["sentiment_score"] == -0.8
    assert review_scores_row(ws, "s1", "d", "a3") is None
    assert [m.model_id for m in trained_models(ws)] == ["m_ok"]


def test_explanation_restores_torch_threads(model):
    before = torch.get_num_threads()
    explain_review(model, TEXT, "sentiment", threads=1)
    assert torch.get_num_threads() == before


def test_review_model_lexical_layer_leaves_no_gap(tmp_path):
    """r1's ReviewModel: special/pad positions are zero inside the lexical layer, so IG is complete."""
    from cx_core.reviews.testing import tiny_review_model

    torch.manual_seed(3)
    rm = tiny_review_model(tmp_path)
    with torch.no_grad():
        for p in rm.lexical.parameters():
            p.normal_(0, 0.5)  # make the lexical part matter
    e = explain_review(rm, TEXT, "sentiment", n_steps=32, segments=2, max_steps=32)
    assert e.outside_gap == pytest.approx(0.0, abs=1e-5)
    assert e.total - e.delta == pytest.approx(e.logit - e.baseline_logit, abs=1e-5)
