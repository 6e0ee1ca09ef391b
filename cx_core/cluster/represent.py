"""Describe segments: distinctive words (c-TF-IDF), a readable name, example texts.

c-TF-IDF follows BERTopic's ``ClassTfidfTransformer``: the texts of each
segment are pooled into one class document, then for word ``t`` and class ``c``

    W(t, c) = tf(t, c) * log(1 + A / f(t))

with ``tf`` the class's word counts L1-normalised per class, ``f(t)`` the count
of ``t`` over all classes and ``A`` the average number of words per class.
Counts come from scikit-learn's ``CountVectorizer`` (English stop words,
1-2-grams) fit on the individual texts, so ``min_df`` prunes rare n-grams by
the number of texts that use them.

Personal data never enters the vocabulary: texts are scrubbed of email
addresses, phone numbers and 5+ digit runs before counting
(:func:`cx_core.ingest.pii_scrub.scrub_pii`), the token pattern drops tokens with
5+ digits, and a top word that still looks personal is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from cx_core.cluster.cluster import OUTLIER
from cx_core.ingest.pii_scrub import TOKEN_PATTERN, is_pii_word, mask_generated, scrub_texts

OUTLIER_NAME = "Outliers"


def join_texts(texts: Sequence[Any]) -> list[str]:
    """One string per row: lists of texts are joined, ``None``/NaN become ``""``."""
    out = []
    for t in texts:
        if t is None or (isinstance(t, float) and np.isnan(t)):
            out.append("")
        elif isinstance(t, str):
            out.append(t)
        else:
            out.append(" ".join(str(x) for x in t if isinstance(x, str)))
    return out


def auto_min_df(n_docs: int) -> int:
    """``min_df`` for the vectorizer: 1 below 200 texts, 2 below 20k, else 5."""
    return 1 if n_docs < 200 else (2 if n_docs < 20_000 else 5)


def ctfidf(counts: sp.spmatrix, reduce_frequent_words: bool = False) -> sp.csr_matrix:
    """BERTopic's c-TF-IDF of a (classes x words) count matrix."""
    counts = sp.csr_matrix(counts, dtype=np.float64)
    f_t = np.asarray(counts.sum(axis=0)).ravel()
    avg_words = float(counts.sum(axis=1).mean())
    idf = np.log(1.0 + avg_words / np.maximum(f_t, 1e-12))
    row_sums = np.asarray(counts.sum(axis=1)).ravel()
    tf = sp.diags(1.0 / np.maximum(row_sums, 1e-12)) @ counts
    if reduce_frequent_words:
        tf.data = np.sqrt(tf.data)
    return sp.csr_matrix(tf @ sp.diags(idf))


def readable_name(words: Sequence[str], n_words: int = 3) -> str:
    """``"a, b & c"`` from the top words, skipping words already covered by a phrase.

    ``["late delivery", "late", "refund"]`` gives ``"late delivery & refund"``.
    """
    chosen: list[str] = []
    seen: set[str] = set()
    for w in words:
        toks = set(w.split())
        if toks <= seen:
            continue
        chosen.append(w)
        seen |= toks
        if len(chosen) == n_words:
            break
    if not chosen:
        return ""
    return chosen[0] if len(chosen) == 1 else ", ".join(chosen[:-1]) + " & " + chosen[-1]


class CTfidfRepresentation(BaseEstimator):
    """Top-k distinctive words and a name per segment from the segment's texts.

    After ``fit(texts, labels)``: ``classes_`` (label ids, -1 included when
    present), ``vocabulary_`` (n-gram strings), ``ctfidf_`` (classes x
    vocabulary), ``top_words_`` ({label: [(word, score), ...]}) and ``names_``
    ({label: name}); the outlier class is named ``"Outliers"``.  Segments with
    no words get ``"Segment <id>"``.  ``min_df=None`` uses :func:`auto_min_df`.
    ``scrub_pii`` (default on) removes emails, phone numbers and 5+ digit runs from
    the texts before counting, so they never become words or names.
    """

    def __init__(
        self,
        top_k: int = 10,
        ngram_range: tuple[int, int] = (1, 2),
        stop_words: str | list[str] | None = "english",
        min_df: int | float | None = None,
        max_features: int | None = 50_000,
        n_name_words: int = 3,
        reduce_frequent_words: bool = False,
        scrub_pii: bool = True,
    ) -> None:
        self.top_k = top_k
        self.ngram_range = ngram_range
        self.stop_words = stop_words
        self.min_df = min_df
        self.max_features = max_features
        self.n_name_words = n_name_words
        self.reduce_frequent_words = reduce_frequent_words
        self.scrub_pii = scrub_pii

    def _vectorize(self, docs: list[str]) -> tuple[sp.csr_matrix, np.ndarray]:
        """Document-term counts, relaxing ``min_df`` if it would empty the vocabulary."""
        from sklearn.feature_extraction.text import CountVectorizer

        min_df = auto_min_df(len(docs)) if self.min_df is None else self.min_df
        for df in (min_df, 1):
            cv = CountVectorizer(
                ngram_range=tuple(self.ngram_range),
                stop_words=self.stop_words,
                min_df=df,
                max_features=self.max_features,
                token_pattern=TOKEN_PATTERN,
            )
            try:
                return cv.fit_transform(docs).tocsr(), cv.get_feature_names_out()
            except ValueError:  # empty vocabulary
                continue
        return sp.csr_matrix((len(docs), 0)), np.array([], dtype=object)

    def fit(self, texts: Sequence[Any], labels: Sequence[int]) -> "CTfidfRepresentation":
        """Compute c-TF-IDF over ``texts`` grouped by ``labels``; returns self."""
        docs = join_texts(texts)
        if self.scrub_pii:
            docs = scrub_texts(docs)
        labels = np.asarray(labels).astype(np.int64)
        if len(docs) != labels.shape[0]:
            raise ValueError(f"{len(docs)} texts for {labels.shape[0]} labels")
        if self.top_k < 1:
            raise ValueError("top_k must be >= 1")
        self.classes_, inverse = np.unique(labels, return_inverse=True)
        doc_term, self.vocabulary_ = self._vectorize(docs)
        member = sp.csr_matrix(
            (np.ones(len(docs)), (inverse.ravel(), np.arange(len(docs)))),
            shape=(self.classes_.size, len(docs)),
        )
        counts = member @ doc_term
        self.ctfidf_ = (
            ctfidf(counts, self.reduce_frequent_words) if counts.shape[1] else sp.csr_matrix(counts.shape)
        )
        self.top_words_ = {int(c): self._top(i) for i, c in enumerate(self.classes_)}
        self.names_ = {c: self._name(c, [w for w, _ in tw]) for c, tw in self.top_words_.items()}
        return self

    def _top(self, row: int) -> list[tuple[str, float]]:
        """The ``top_k`` highest-scoring words of one class (score > 0, none personal), best first."""
        scores = self.ctfidf_.getrow(row).toarray().ravel()
        if scores.size == 0:
            return []
        out: list[tuple[str, float]] = []
        for j in np.argsort(-scores, kind="stable"):
            if scores[j] <= 0 or len(out) == self.top_k:
                break
            word = str(self.vocabulary_[j])
            if not is_pii_word(word):
                out.append((word, float(scores[j])))
        return out

    def _name(self, label: int, words: list[str]) -> str:
        """Readable segment name."""
        if label == OUTLIER:
            return OUTLIER_NAME
        return str(mask_generated(readable_name(words, self.n_name_words))) or f"Segment {label}"

    def top_words(self, label: int) -> list[str]:
        """The top words of one segment (empty list for an unknown label)."""
        check_is_fitted(self, "top_words_")
        return [w for w, _ in self.top_words_.get(int(label), [])]

    def name(self, label: int) -> str:
        """The readable name of one segment."""
        check_is_fitted(self, "names_")
        return self.names_.get(int(label), OUTLIER_NAME if label == OUTLIER else f"Segment {label}")


def representative_indices(
    X: np.ndarray, labels: Sequence[int], k: int = 3, valid: np.ndarray | None = None
) -> dict[int, list[int]]:
    """Row indices of the ``k`` rows closest to each segment's centroid (ties: lower index).

    ``valid`` (bool mask) restricts candidates, e.g. to rows that have text;
    the centroid still uses every row of the segment.  Outliers are skipped.
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    valid = np.ones(labels.shape[0], dtype=bool) if valid is None else np.asarray(valid, bool)
    out: dict[int, list[int]] = {}
    for seg in np.unique(labels[labels != OUTLIER]):
        rows = np.flatnonzero(labels == seg)
        centre = X[rows].mean(axis=0)
        cand = rows[valid[rows]]
        d = ((X[cand] - centre) ** 2).sum(axis=1)
        out[int(seg)] = [int(i) for i in cand[np.lexsort((cand, d))[:k]]]
    return out


def representative_docs(
    X: np.ndarray, labels: Sequence[int], texts: Sequence[Any], k: int = 3
) -> dict[int, list[str]]:
    """The ``k`` texts nearest each segment's centroid in ``X`` (rows without text skipped)."""
    docs = join_texts(texts)
    if len(docs) != len(labels):
        raise ValueError(f"{len(docs)} texts for {len(labels)} labels")
    has_text = np.array([bool(d.strip()) for d in docs])
    idx = representative_indices(X, labels, k=k, valid=has_text)
    return {seg: [docs[i] for i in rows] for seg, rows in idx.items()}
