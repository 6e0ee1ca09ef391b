"""TextEncoder on the real all-MiniLM-L6-v2: agreement with sentence-transformers and edge cases."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from cx_core.config import load_config
from cx_core.text import encoder as encoder_mod
from cx_core.text.encoder import ModelDirError, TextEncoder, default_model_dir, resolve_dtype
from tests.conftest import shared

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Keep torch to one thread here (the machine is shared) and restore it after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """50 real clothing reviews of varied length, plus short and odd ones."""
    df = pd.read_csv(
        shared("womens_clothing_reviews/womens_clothing_ecommerce_reviews.csv.gz"),
        usecols=["Review Text"],
        nrows=2000,
    )
    real = df["Review Text"].dropna().astype(str)
    picked = real.sample(44, random_state=3).tolist()
    return picked + ["ok", "Love it!!!", "", "  ", "ÉCRU ✓ naïve café", real.iloc[0] * 4]


@pytest.fixture(scope="module")
def reference(texts) -> np.ndarray:
    """sentence-transformers' own embeddings of ``texts`` (the baseline)."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(default_model_dir(), device="cpu")
    return st.encode(texts, batch_size=16, normalize_embeddings=True)


@pytest.fixture(scope="module")
def fp32() -> TextEncoder:
    return TextEncoder(dtype="float32", device="cpu").load()


def test_fp32_matches_sentence_transformers_in_input_order(fp32, texts, reference):
    out = fp32.encode(texts)
    assert out.shape == (len(texts), 384) and out.dtype == np.float32
    cos = (out * reference).sum(1)
    assert cos.min() >= 0.99999, cos.min()
    assert fp32.model_id_.endswith(":f32") and fp32.dtype_ == torch.float32


def test_bf16_path_agrees(texts, reference):
    enc = TextEncoder(dtype="bfloat16", device="cpu", batch_tokens=4096)
    out = enc.encode(texts[:16])
    assert enc.dtype_ == torch.bfloat16 and enc.model_id_.endswith(":bf16")
    assert (out * reference[:16]).sum(1).min() >= 0.999


def test_auto_dtype_rules(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_dtype("auto", cuda) == torch.float16
    monkeypatch.setattr(encoder_mod, "cpu_flags", lambda: frozenset({"avx2"}))
    assert resolve_dtype("auto", cpu) == torch.float32
    monkeypatch.setattr(encoder_mod, "cpu_flags", lambda: frozenset({"avx2", "amx_bf16"}))
    assert resolve_dtype("auto", cpu) == torch.bfloat16
    assert resolve_dtype("float32", cpu) == torch.float32
    with pytest.raises(ValueError):
        resolve_dtype("int8", cpu)


def test_empty_none_and_long_texts(fp32, texts, reference):
    long_a, long_b = "fabric " * 4000, "fabric " * 300  # both past 256 tokens
    out = fp32.encode(["", None, long_a, long_b, float("nan")])
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)
    np.testing.assert_allclose(out[0], out[4], atol=1e-6)
    np.testing.assert_allclose(out[0], reference[texts.index("")], atol=1e-5)
    np.testing.assert_allclose(out[2], out[3], atol=1e-5)  # truncated at max_length
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert fp32.encode([]).shape == (0, 384)


def test_small_batches_chunks_prefetch_and_progress(fp32, texts, monkeypatch):
    monkeypatch.setattr(encoder_mod, "CHUNK_TEXTS", 8)
    small = TextEncoder(dtype="float32", device="cpu", batch_tokens=96)
    small.model_, small.tokenizer_ = fp32.model_, fp32.tokenizer_  # reuse the loaded weights
    small.identify()
    small._fast_ = small._backend_copy()
    seen: list[tuple[int, int]] = []
    out = small.encode(texts, progress=lambda d, n: seen.append((d, n)))
    assert len(seen) > len(texts) // 8 and seen[-1] == (len(texts), len(texts))
    assert all(a[0] < b[0] for a, b in zip(seen, seen[1:]))
    np.testing.assert_allclose(out, fp32.encode(texts), atol=2e-5)
    small.prefetch = False
    np.testing.assert_allclose(small.encode(texts[::-1]), out[::-1], atol=2e-5)


def test_bad_model_dir_is_named(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelDirError, match="no-such-model"):
        TextEncoder(model_dir=str(missing)).encode(["x"])
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text("{}")
    with pytest.raises(ModelDirError, match=r"empty.*missing.*tokenizer.*weights"):
        TextEncoder(model_dir=str(tmp_path / "empty")).identify()


def test_other_local_model_dir_via_config(tmp_path, fp32):
    """A tiny random BERT with MiniLM's tokenizer, found through CX_MODEL_DIR."""
    from transformers import BertConfig, BertModel

    src = default_model_dir()
    tiny = tmp_path / "tiny-bert"
    torch.manual_seed(0)
    BertModel(
        BertConfig(
            vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
        )
    ).save_pretrained(tiny)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(os.path.join(src, name), tiny / name)
    cfg = load_config(env={"CX_MODEL_DIR": str(tiny), "CX_MODEL_DEVICE": "cpu"})
    enc = TextEncoder.from_config(cfg.model)
    out = enc.encode(["a tiny model", "works offline", ""])
    assert out.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert enc.model_id_.startswith("tiny-bert:") and enc.model_id_ != fp32.model_id_
    config = json.loads((tiny / "config.json").read_text())
    config["layer_norm_eps"] = 1e-6  # any change to the model changes its id
    (tiny / "config.json").write_text(json.dumps(config))
    assert TextEncoder(model_dir=str(tiny), device="cpu").identify() != enc.model_id_
