"""The review model's mechanics on a tiny random BERT: explainability contract, save/load, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cx_core.explain.protocol import ExplainableModel
from cx_core.reviews.model import load_review_model
from cx_core.reviews.testing import tiny_review_model
from cx_core.reviews.train import ReviewTrainer, TrainingSet, rating_classes, sentiment_from_ratings

TEXTS = [
    "Love the fabric, fits true to size.",
    "Terrible quality, it ripped after one wash.",
    "It's okay I guess",
    "",
    "Shipping took weeks but the dress is beautiful!!",
    "<img src=x onerror=alert(1)> never again",
]


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny")


@pytest.fixture
def model(tiny_root):
    torch.manual_seed(0)
    m = tiny_review_model(tiny_root)
    with torch.no_grad():  # non-trivial heads and n-grams
        for p in m.heads.parameters():
            p.normal_(0, 0.5)
        m.lexical.unigram.weight.normal_(0, 0.5)
        m.lexical.bigram.weight.normal_(0, 0.5)
    return m.eval()


def _cached_path_logits(model, texts):
    """What scoring does: cached sentence vectors (TextEncoder.encode) + lexical part from ids."""
    deep = torch.as_tensor(model.text_encoder_.encode(texts))
    ids, mask = model.tokenize(texts)
    return model.logits_from_features(deep, model.lexical_features(ids, mask))


def test_implements_the_explainable_protocol(model):
    assert isinstance(model, ExplainableModel)
    assert model.heads_["sentiment"] == ["negative", "neutral", "positive"]
    assert model.head_kinds_ == {
        "sentiment": "multiclass",
        "rating": "multiclass",
        "aspects": "multilabel",
        "risk": "multilabel",
    }
    assert model.tokenizer_.is_fast and model.max_length == 64
    assert model.attention_encoder() is model.encoder
    layers = model.attribution_layers()
    assert layers[0] is model.encoder.get_input_embeddings() and layers[1] is model.lexical


def test_forward_logits_equals_cached_embedding_path(model):
    ids, mask = model.tokenize(TEXTS)
    with torch.no_grad():
        direct = model.forward_logits(ids, mask)
        cached = _cached_path_logits(model, TEXTS)
    for head in model.heads_:
        assert direct[head].shape == (len(TEXTS), len(model.heads_[head]))
        torch.testing.assert_close(direct[head], cached[head], atol=1e-5, rtol=1e-4)


def test_every_input_path_goes_through_the_attribution_layers(model):
    """Feed ids A but splice in the attribution-layer outputs of ids B: the logits become B's."""
    a, b = "good fit and nice fabric", "bad size and poor color"
    ids_a, mask = model.tokenize([a])
    ids_b, mask_b = model.tokenize([b])
    assert ids_a.shape == ids_b.shape and torch.equal(mask, mask_b)
    layers = model.attribution_layers()
    captured = {}
    hooks = [
        layer.register_forward_hook(lambda m, i, o, k=k: captured.__setitem__(k, o))
        for k, layer in enumerate(layers)
    ]
    with torch.no_grad():
        want = model.forward_logits(ids_b, mask_b)
    for h in hooks:
        h.remove()
    hooks = [layer.register_forward_hook(lambda m, i, o, k=k: captured[k]) for k, layer in enumerate(layers)]
    with torch.no_grad():
        got = model.forward_logits(ids_a, mask)
    for h in hooks:
        h.remove()
    for head in want:
        torch.testing.assert_close(got[head], want[head], atol=1e-5, rtol=1e-4)


def test_gradients_reach_both_attribution_layers(model):
    ids, mask = model.tokenize(TEXTS[:2])
    outs = []

    def leaf(module, inputs, output):  # what an explainer does: a layer output that needs grads
        outs.append(output.detach().requires_grad_())
        return outs[-1]

    hooks = [layer.register_forward_hook(leaf) for layer in model.attribution_layers()]
    model.forward_logits(ids, mask)["sentiment"][:, 2].sum().backward()
    for h in hooks:
        h.remove()
    assert all(o.grad is not None and o.grad.abs().sum() > 0 for o in outs)


def test_save_load_roundtrip(model, tmp_path):
    model.model_id_ = "rm_test"
    model.meta_["taxonomy"] = {"fit": ["fit"]}
    model.save(tmp_path / "m", metrics={"sentiment": {"macro_f1": 0.5}})
    again = load_review_model(tmp_path / "m")
    ids, mask = model.tokenize(TEXTS)
    with torch.no_grad():
        a, b = model.forward_logits(ids, mask), again.forward_logits(ids, mask)
    for head in a:
        torch.testing.assert_close(a[head], b[head])
    assert again.model_id_ == "rm_test" and again.heads_ == model.heads_
    assert not (tmp_path / "m" / "encoder").exists()  # frozen: the encoder is not copied


def test_load_refuses_a_changed_encoder(model, tmp_path):
    import json

    model.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["encoder"]["encoder_id"] = "something-else"
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="encoder changed"):
        load_review_model(tmp_path / "m")
    with pytest.raises(ValueError, match="not a saved review model"):
        load_review_model(tmp_path / "nothing")


def _toy_set(model, n=120, seed=0):
    rng = np.random.default_rng(seed)
    good = ["love it", "great fit", "beautiful fabric", "perfect dress"]
    bad = ["awful", "ripped seams", "returned it", "poor quality"]
    texts, ratings = [], []
    for _ in range(n):
        r = int(rng.integers(1, 6))
        words = good if r >= 4 else bad if r <= 2 else good[:1] + bad[:1]
        texts.append(" ".join(rng.choice(words, 3)))
        ratings.append(r)
    k = len(model.heads_["aspects"])
    targets = {
        "sentiment": sentiment_from_ratings(ratings),
        "rating": rating_classes(ratings),
        "aspects": np.zeros((n, k), np.float32),
        "risk": np.zeros((n, 6), np.float32),
    }
    return TrainingSet(texts, targets, model.text_encoder_.encode(texts))


def test_frozen_training_learns_and_leaves_encoder_alone(tiny_root):
    model = tiny_review_model(tiny_root)
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    data = _toy_set(model)
    trainer = ReviewTrainer(epochs=8, batch_size=16, lr=1e-2).fit(model, data)
    assert trainer.history_[-1]["loss"] < trainer.history_[0]["loss"]
    assert all(torch.equal(before[k], v) for k, v in model.encoder.state_dict().items())
    probs = model.predict_texts(["love it great fit", "awful ripped seams"])["sentiment"]
    assert probs[0].argmax() == 2 and probs[1].argmax() == 0


def test_finetune_trains_a_private_encoder_copy(tiny_root, tmp_path):
    base = tiny_review_model(tiny_root)
    model = tiny_review_model(tiny_root, mode="finetune")
    assert model.encoder is not base.encoder
    shared_before = {k: v.clone() for k, v in base.encoder.state_dict().items()}
    data = _toy_set(model, n=32)
    ReviewTrainer(mode="finetune", epochs=1, batch_size=8, encoder_lr=1e-3).fit(model, data)
    assert any(not torch.equal(shared_before[k], v) for k, v in model.encoder.state_dict().items())
    model.model_id_ = "rm_ft"
    model.save(tmp_path / "ft")
    again = load_review_model(tmp_path / "ft")
    ids, mask = model.tokenize(TEXTS)
    with torch.no_grad():
        torch.testing.assert_close(
            model.forward_logits(ids, mask)["sentiment"], again.forward_logits(ids, mask)["sentiment"]
        )


def test_trainer_refuses_bad_input(tiny_root):
    model = tiny_review_model(tiny_root)
    data = _toy_set(model, n=8)
    with pytest.raises(ValueError, match="cached embeddings"):
        ReviewTrainer().fit(model, TrainingSet(data.texts, data.targets, None))
    with pytest.raises(ValueError, match="does not match"):
        ReviewTrainer(mode="finetune").fit(model, data)
