"""Fine-tuning that pays on a CPU: train only the encoder's top layers on cached lower-layer states.

The embeddings and the lower ``n - k`` transformer layers run once, without gradients, over the
training texts; their output is kept in memory as float16, one row per real token (no padding).
Each epoch then runs only the top ``k`` layers, the pooling, the lexical n-gram part and the
heads with gradients, on token-budget batches of texts of similar length (shuffled batch order).
A held-out slice of the *training* rows picks the best epoch (early stopping); the test split is
never seen. Afterwards the model's own encoder holds the tuned top layers, so scoring, saving and
Explain run the ordinary full forward pass and need no change.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

from cx_core.progress import Progress
from cx_core.reviews.losses import loss_functions, optimizer_step, target_tensors
from cx_core.reviews.model import ReviewModel, in_input_order, pool_hidden
from cx_core.text.encoder import pad_rows, plan_batches

#: padded tokens per batch of the one-off lower-layer pass
LOWER_BATCH_TOKENS = 4096


def encoder_layers(model: ReviewModel) -> nn.ModuleList:
    """The transformer blocks of the model's (BERT-like) encoder."""
    layers = getattr(getattr(model.encoder, "encoder", None), "layer", None)
    if layers is None:
        raise ValueError("top-layer tuning needs a BERT-like encoder (encoder.encoder.layer)")
    return layers


def first_tuned_layer(model: ReviewModel, tune_layers: int) -> int:
    """Index of the first trained block: ``n - tune_layers`` (0 when all blocks are trained)."""
    n = len(encoder_layers(model))
    return max(0, n - int(tune_layers)) if tune_layers > 0 else 0


def _mask4d(model: ReviewModel, hidden: torch.Tensor, mask: torch.Tensor):
    """The attention mask exactly as the encoder builds it for its blocks."""
    from transformers.masking_utils import create_bidirectional_mask

    return create_bidirectional_mask(config=model.encoder.config, inputs_embeds=hidden, attention_mask=mask)


def run_layers(
    model: ReviewModel, hidden: torch.Tensor, mask: torch.Tensor, lo: int, hi: int
) -> torch.Tensor:
    """Hidden states after blocks ``lo .. hi - 1`` of the encoder, from those before block ``lo``."""
    attn = _mask4d(model, hidden, mask)
    for layer in encoder_layers(model)[lo:hi]:
        out = layer(hidden, attn)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def lower_states(model: ReviewModel, ids: torch.Tensor, mask: torch.Tensor, first: int) -> torch.Tensor:
    """Word embeddings + blocks ``0 .. first - 1``: the input of the first tuned block."""
    hidden = model.encoder.embeddings(input_ids=ids)
    return run_layers(model, hidden, mask, 0, first)


def top_features(model: ReviewModel, hidden: torch.Tensor, mask: torch.Tensor, first: int) -> torch.Tensor:
    """The model's deep features from cached states before block ``first`` (same as ``deep_features``)."""
    top = run_layers(model, hidden, mask, first, len(encoder_layers(model)))
    return pool_hidden(top.float(), mask, model.pooling_)


@dataclass
class LayerCache:
    """Token ids and lower-layer states of many texts, flat (one row per real token)."""

    states: torch.Tensor  # (tokens, hidden) float16
    ids: np.ndarray  # (tokens,) int64
    offsets: np.ndarray  # (texts,) first row of each text
    lengths: np.ndarray  # (texts,) tokens per text
    first: int  # the states are the input of this block

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Padded ``(states float32, input_ids, attention_mask)`` of the texts ``rows``."""
        ids, mask = pad_rows(self.ids, self.offsets, self.lengths, rows, 0)
        width = ids.shape[1]
        gather = np.minimum(self.offsets[rows][:, None] + np.arange(width)[None, :], len(self.ids) - 1)
        hidden = self.states[torch.from_numpy(gather)].float()
        m = torch.from_numpy(mask)
        return hidden * m.unsqueeze(-1), torch.from_numpy(ids), m


def token_ids(model: ReviewModel, texts: list[str], chunk: int = 4096) -> list[list[int]]:
    """Token ids of ``texts`` as the model tokenizes them (special tokens, cut at ``max_length``)."""
    out: list[list[int]] = []
    for lo in range(0, len(texts), chunk):
        enc = model.tokenizer_(
            [t or "" for t in texts[lo : lo + chunk]], truncation=True, max_length=model.max_length
        )
        out.extend(enc["input_ids"])
    return out


def build_cache(
    model: ReviewModel, texts: list[str], first: int, progress: Callable[[float], None] | None = None
) -> LayerCache:
    """Run the frozen lower part once over ``texts`` and keep its output (float16)."""
    seqs = token_ids(model, texts)
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    flat_in = np.fromiter((i for s in seqs for i in s), dtype=np.int64, count=int(lengths.sum()))
    in_off = np.zeros_like(lengths)
    np.cumsum(lengths[:-1], out=in_off[1:])
    batches = plan_batches(lengths, LOWER_BATCH_TOKENS)
    order = np.concatenate(batches) if batches else np.zeros(0, np.int64)
    offsets = np.zeros_like(lengths)  # rows laid out in processing order: one block per batch
    offsets[order] = np.concatenate([[0], np.cumsum(lengths[order])[:-1]]) if len(order) else []
    states = torch.empty((int(lengths.sum()), model.deep_dim_), dtype=torch.float16)
    pos = 0
    with torch.inference_mode():
        for b, rows in enumerate(batches):
            ids, mask = pad_rows(flat_in, in_off, lengths, rows, model.tokenizer_.pad_token_id or 0)
            ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
            hidden = lower_states(model, ids_t, mask_t, first) if first else model.encoder.embeddings(ids_t)
            real = hidden[mask_t.bool()]
            states[pos : pos + len(real)] = real.to(torch.float16)
            pos += len(real)
            if progress is not None:
                progress((b + 1) / len(batches))
    flat = np.empty_like(flat_in)
    for r in order:  # the ids in the same layout as the states
        flat[offsets[r] : offsets[r] + lengths[r]] = flat_in[in_off[r] : in_off[r] + lengths[r]]
    return LayerCache(states, flat, offsets, lengths, first)


def plan_epoch(lengths: np.ndarray, budget: int, max_rows: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of similar-length texts (random ties) within ``budget`` padded tokens and ``max_rows``
    rows, in random order."""
    order = np.lexsort((rng.random(len(lengths)), -lengths))
    out, start = [], 0
    while start < len(order):
        rows = max(1, min(max_rows, budget // max(1, int(lengths[order[start]]))))
        out.append(order[start : start + rows])
        start += rows
    return [out[i] for i in rng.permutation(len(out))]


def validation_rows(y: np.ndarray, share: float, cap: int, min_train: int, seed: int) -> np.ndarray:
    """A random slice of the training rows (stratified by ``y`` where it is known) held out for
    early stopping; empty when the data are too small to spare it."""
    n = len(y)
    k = min(cap, int(round(n * share)))
    if n - k < min_train or k < 20:
        return np.zeros(0, np.int64)
    from cx_core.reviews.evaluate import split_indices

    _, val = split_indices(np.where(y >= 0, y, y.max() + 1 if len(y) else 0), k / n, seed)
    return np.sort(val)


def sentiment_score(y: np.ndarray, proba: np.ndarray) -> float:
    """Macro-F1 over the classes present in ``y`` (rows with y < 0 ignored)."""
    from sklearn.metrics import f1_score

    keep = y >= 0
    if keep.sum() == 0:
        return float("nan")
    return float(f1_score(y[keep], proba[keep].argmax(1), labels=np.unique(y[keep]), average="macro"))


EpochHook = Callable[[ReviewModel, int], dict]


class _Clock:
    """Wall and process-CPU seconds since creation, minus paused spans; ``budget()`` reads the wall
    clock, or (``kind="cpu"``) CPU seconds per torch thread, i.e. wall seconds on idle cores."""

    def __init__(self, kind: str = "wall") -> None:
        self.kind = kind
        self._wall0, self._cpu0 = time.perf_counter(), time.process_time()

    def wall(self) -> float:
        """Wall seconds counted so far."""
        return time.perf_counter() - self._wall0

    def cpu(self) -> float:
        """Process CPU seconds (all threads) counted so far."""
        return time.process_time() - self._cpu0

    def budget(self) -> float:
        """The seconds a time budget is compared with."""
        return self.cpu() / max(1, torch.get_num_threads()) if self.kind == "cpu" else self.wall()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Do not count the time spent inside the block."""
        w, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self._wall0 += time.perf_counter() - w
            self._cpu0 += time.process_time() - c


class TopLayerFit:
    """One top-layer tuning run of a :class:`ReviewTrainer` (the trainer holds the settings)."""

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer

    def fit(
        self,
        model: ReviewModel,
        data: Any,
        progress: Progress | None = None,
        epoch_hook: EpochHook | None = None,
    ) -> "TopLayerFit":
        """Cache the lower layers, train the top ones with early stopping; sets ``history_``,
        ``best_epoch_``, ``val_rows_``, ``cache_s_`` and ``n_train_``.

        ``epoch_hook(model, epoch)`` (benchmarks: a test-set curve) runs after each epoch; its
        dict joins that epoch's history row and its time is not counted as training time.
        """
        t = self.trainer
        rng = np.random.default_rng(t.seed)
        torch.manual_seed(t.seed)
        first = first_tuned_layer(model, t.tune_layers)
        self._freeze_lower(model, first)
        y = data.targets.get("sentiment")
        val = (
            validation_rows(y, t.val_share, t.val_max, t.min_train, t.seed)
            if y is not None
            else np.zeros(0, np.int64)  # zero-shot sentiment: nothing to stop on, use every epoch
        )
        self.best_epoch_ = 0
        fit_rows = np.setdiff1d(np.arange(len(data.texts)), val)
        self._clock = _Clock(t.budget_clock)
        model.eval()
        cache = build_cache(
            model, data.texts, first, None if progress is None else lambda f: progress(0.25 * f, "caching")
        )
        self.cache_s_ = round(self._clock.wall(), 2)
        self.val_rows_, self.n_train_ = val, len(fit_rows)
        self._train(model, data, cache, fit_rows, val, rng, progress, epoch_hook)
        return self

    @staticmethod
    def _freeze_lower(model: ReviewModel, first: int) -> None:
        for p in model.encoder.parameters():
            p.requires_grad_(False)
        for layer in encoder_layers(model)[first:]:
            for p in layer.parameters():
                p.requires_grad_(True)

    def _train(self, model, data, cache, fit_rows, val, rng, progress, epoch_hook) -> None:
        t = self.trainer
        losses = loss_functions(model, data.subset(fit_rows).targets, t.balanced)
        lengths = cache.lengths[fit_rows]
        per_epoch = len(plan_epoch(lengths, t.batch_tokens, t.batch_size, rng))
        optimizers = t.optimizers(model, per_epoch * t.epochs)
        drop = nn.Dropout(t.dropout)
        best, best_state, history, bad = -np.inf, None, [], 0
        clock = self._clock
        for epoch in range(t.epochs):
            model.train()
            total = 0.0
            batches = plan_epoch(lengths, t.batch_tokens, t.batch_size, rng)
            for step, b in enumerate(batches):
                rows = fit_rows[b]
                hidden, ids, mask = cache.batch(rows)
                deep = drop(top_features(model, hidden, mask, cache.first)) if model.use_deep else None
                lex = drop(model.lexical_features(ids, mask)) if model.lexical is not None else None
                loss = losses(model.logits_from_features(deep, lex), target_tensors(data, rows))
                optimizer_step(optimizers, loss)
                total += loss.item() * len(rows)
                over = bool(t.time_budget_s) and clock.budget() > t.time_budget_s
                if progress is not None:
                    done = 0.25 + 0.75 * (epoch * per_epoch + step + 1) / (per_epoch * t.epochs)
                    progress(done, f"epoch {epoch + 1}/{t.epochs}, loss {loss.item():.3f}")
                if over:
                    break
            score = self.validate(model, data, cache, val) if len(val) else float(epoch)
            row = {"epoch": epoch + 1 if not over else round(epoch + (step + 1) / per_epoch, 2)}
            row.update(loss=round(total / max(len(fit_rows), 1), 5))
            row.update(val_macro_f1=round(score, 4) if len(val) else None)
            row.update(seconds=round(clock.wall(), 2), cpu_s=round(clock.cpu(), 2))
            if epoch_hook is not None:
                with clock.paused():
                    row.update(epoch_hook(model, epoch + 1))
            history.append(row)
            if score > best:
                best, bad, self.best_epoch_ = score, 0, epoch + 1
                best_state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
            else:
                bad += 1
            if bad > t.patience or over:
                break
        if best_state is not None and len(val):
            with torch.no_grad():
                for n, p in model.named_parameters():
                    if n in best_state:
                        p.copy_(best_state[n])
        model.eval()
        self.history_ = history

    def validate(self, model: ReviewModel, data: Any, cache: LayerCache, val: np.ndarray) -> float:
        """Sentiment macro-F1 on the validation slice of the training rows (cached states)."""
        proba = cached_proba(model, cache, val, self.trainer.batch_tokens * 2)["sentiment"]
        return sentiment_score(data.targets["sentiment"][val], proba)


@torch.no_grad()
def cached_proba(model: ReviewModel, cache: LayerCache, rows: np.ndarray, budget: int = 4096) -> dict:
    """Head probabilities of the cached texts ``rows`` (in that order), from the top layers only."""
    model.eval()
    rows = np.asarray(rows)
    parts: dict[str, list[np.ndarray]] = {h: [] for h in model.heads_}
    done = []
    for b in plan_batches(cache.lengths[rows], budget):
        hidden, ids, mask = cache.batch(rows[b])
        deep = top_features(model, hidden, mask, cache.first) if model.use_deep else None
        lex = model.lexical_features(ids, mask) if model.lexical is not None else None
        for h, p in model.probabilities(model.logits_from_features(deep, lex)).items():
            parts[h].append(p)
        done.append(b)
    where = np.concatenate(done) if done else np.zeros(0, np.int64)
    return in_input_order(parts, where, model.heads_)
