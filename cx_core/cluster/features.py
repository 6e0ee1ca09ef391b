"""Customer vectors from text embeddings and behaviour (RFM-like) columns.

Blocks, each scaled to unit total variance and then multiplied by its weight,
so ``text_weight`` and ``behaviour_weight`` are directly comparable:

* text -- the customer's mean review embedding, L2-normalised; customers
  without reviews get zeros plus a ``text_missing`` indicator column.
* behaviour -- numeric columns; missing values take the column median,
  skewed non-negative columns (money, counts) go through ``log1p``, then each
  column is centred on its median, divided by its robust spread (IQR / 1.349,
  falling back to the standard deviation) and clipped to +-``clip``.

Works with text only, behaviour only, or both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

MISSING_TEXT = "text_missing"


def mean_review_embeddings(
    review_embeddings: np.ndarray, review_customer_ids: Any, customer_ids: Any, normalize: bool = True
) -> np.ndarray:
    """Mean review embedding per customer, in ``customer_ids`` order.

    Rows of customers without reviews are NaN (the builder turns them into
    zeros + indicator).  ``normalize`` re-projects the means onto the unit
    sphere, the geometry sentence embeddings are compared in.
    """
    E = np.asarray(review_embeddings, dtype=np.float32)
    owners = pd.Index(pd.Series(customer_ids)).get_indexer(pd.Series(review_customer_ids))
    keep = owners >= 0
    n = len(customer_ids)
    sums = np.zeros((n, E.shape[1]), dtype=np.float64)
    np.add.at(sums, owners[keep], E[keep])
    counts = np.bincount(owners[keep], minlength=n)
    out = np.full((n, E.shape[1]), np.nan, dtype=np.float32)
    has = counts > 0
    out[has] = (sums[has] / counts[has, None]).astype(np.float32)
    if normalize:
        norms = np.linalg.norm(out[has], axis=1, keepdims=True)
        out[has] = out[has] / np.maximum(norms, 1e-12)
    return out


def _is_skewed(x: np.ndarray, threshold: float) -> bool:
    """Non-negative with sample skewness above ``threshold``."""
    x = x[np.isfinite(x)]
    if x.size < 3 or x.min() < 0:
        return False
    sd = x.std()
    return bool(sd > 0 and np.mean(((x - x.mean()) / sd) ** 3) > threshold)


class CustomerFeatureBuilder(BaseEstimator):
    """Build one float32 vector per customer from text and/or behaviour.

    ``fit(text=None, behaviour=None)`` learns the scaling; ``transform`` and
    ``fit_transform`` take the same arguments.  ``text`` is ``(n, d)`` with
    NaN rows for customers without text; ``behaviour`` a DataFrame of numeric
    columns.  ``log_columns="auto"`` picks skewed non-negative columns, or
    give a list.  Learned: ``feature_names_``, ``blocks_`` ({name: slice}),
    ``log_columns_``, ``center_``, ``scale_``, ``text_dim_``, ``text_scale_``,
    ``n_features_out_``.
    """

    def __init__(
        self,
        text_weight: float = 1.0,
        behaviour_weight: float = 1.0,
        log_columns: str | list[str] = "auto",
        skew_threshold: float = 1.0,
        clip: float = 5.0,
        missing_indicator: bool = True,
    ) -> None:
        self.text_weight = text_weight
        self.behaviour_weight = behaviour_weight
        self.log_columns = log_columns
        self.skew_threshold = skew_threshold
        self.clip = clip
        self.missing_indicator = missing_indicator

    # ---------------------------------------------------------------- validation
    @staticmethod
    def _check_inputs(text: Any, behaviour: Any) -> tuple[np.ndarray | None, pd.DataFrame | None]:
        """Arrays in the right shape, same number of rows, at least one block."""
        if text is None and behaviour is None:
            raise ValueError("give text embeddings, behaviour columns, or both")
        T = None if text is None else np.asarray(text, dtype=np.float32)
        if T is not None and T.ndim != 2:
            raise ValueError(f"text must be 2-D (n, d), got shape {T.shape}")
        B = None
        if behaviour is not None:
            B = pd.DataFrame(behaviour)
            bad = [c for c in B.columns if not pd.api.types.is_numeric_dtype(B[c])]
            if bad:
                raise ValueError(f"behaviour columns must be numeric: {bad}")
            if B.shape[1] == 0:
                raise ValueError("behaviour has no columns")
        if T is not None and B is not None and T.shape[0] != B.shape[0]:
            raise ValueError(f"text has {T.shape[0]} rows, behaviour {B.shape[0]}")
        return T, B

    # ---------------------------------------------------------------- fitting
    def fit(self, text: Any = None, behaviour: Any = None) -> "CustomerFeatureBuilder":
        """Learn the block layout and the scaling; returns self."""
        if self.text_weight < 0 or self.behaviour_weight < 0:
            raise ValueError("weights must be >= 0")
        T, B = self._check_inputs(text, behaviour)
        self.text_dim_ = 0 if T is None else T.shape[1]
        if T is not None:
            self._fit_text(T)
        self.behaviour_columns_ = [] if B is None else [str(c) for c in B.columns]
        if B is not None:
            self._fit_behaviour(B)
        self._layout()
        return self

    def _fit_text(self, T: np.ndarray) -> None:
        """Scale so the text block's total variance is 1."""
        U, has = self._unit_rows(T)
        var = float(U.var(axis=0).sum()) if U.shape[0] > 1 else 1.0
        self.text_scale_ = 1.0 / np.sqrt(var) if var > 1e-12 else 1.0
        self.missing_share_ = float(1.0 - has.mean())

    def _fit_behaviour(self, B: pd.DataFrame) -> None:
        """Medians for imputation, log columns, robust centre and spread."""
        X = B.to_numpy(dtype=np.float64)
        self.medians_ = np.nanmedian(np.where(np.isfinite(X), X, np.nan), axis=0)
        self.medians_ = np.where(np.isfinite(self.medians_), self.medians_, 0.0)
        X = self._impute(X)
        if self.log_columns == "auto":
            self.log_columns_ = [
                c for j, c in enumerate(self.behaviour_columns_) if _is_skewed(X[:, j], self.skew_threshold)
            ]
        else:
            self.log_columns_ = [str(c) for c in self.log_columns]
            unknown = set(self.log_columns_) - set(self.behaviour_columns_)
            if unknown:
                raise ValueError(f"log_columns not in behaviour: {sorted(unknown)}")
        X = self._log(X)
        self.center_ = np.median(X, axis=0)
        q75, q25 = np.percentile(X, [75, 25], axis=0)
        spread = (q75 - q25) / 1.349
        sd = X.std(axis=0)
        spread = np.where(spread > 1e-12, spread, sd)
        self.scale_ = np.where(spread > 1e-12, spread, 1.0)

    def _layout(self) -> None:
        """Column names and block slices of the output."""
        names: list[str] = []
        self.blocks_: dict[str, slice] = {}
        if self.text_dim_:
            self.blocks_["text"] = slice(0, self.text_dim_)
            names += [f"text_{i}" for i in range(self.text_dim_)]
            if self.missing_indicator:
                self.blocks_[MISSING_TEXT] = slice(len(names), len(names) + 1)
                names.append(MISSING_TEXT)
        if self.behaviour_columns_:
            start = len(names)
            names += self.behaviour_columns_
            self.blocks_["behaviour"] = slice(start, len(names))
        self.feature_names_ = names
        self.n_features_out_ = len(names)

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _unit_rows(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """L2-normalised rows (zeros where missing) and the has-text mask."""
        has = np.isfinite(T).all(axis=1) & (np.abs(np.nan_to_num(T)).sum(axis=1) > 0)
        U = np.zeros_like(T, dtype=np.float32)
        norms = np.linalg.norm(T[has], axis=1, keepdims=True)
        U[has] = T[has] / np.maximum(norms, 1e-12)
        return U, has

    def _impute(self, X: np.ndarray) -> np.ndarray:
        """Replace NaN/inf by the fitted column medians."""
        bad = ~np.isfinite(X)
        if bad.any():
            X = X.copy()
            X[bad] = np.take(self.medians_, np.nonzero(bad)[1])
        return X

    def _log(self, X: np.ndarray) -> np.ndarray:
        """``log1p`` of the log columns (negative values clipped at 0 first)."""
        X = X.copy()
        for c in self.log_columns_:
            j = self.behaviour_columns_.index(c)
            X[:, j] = np.log1p(np.maximum(X[:, j], 0.0))
        return X

    # ---------------------------------------------------------------- transform
    def transform(self, text: Any = None, behaviour: Any = None) -> np.ndarray:
        """Customer vectors ``(n, n_features_out_)`` as float32."""
        check_is_fitted(self, "feature_names_")
        T, B = self._check_inputs(text, behaviour)
        if (T is None) != (self.text_dim_ == 0) or (B is None) != (not self.behaviour_columns_):
            raise ValueError("transform needs the same blocks (text / behaviour) as fit")
        parts = []
        if T is not None:
            parts += self._text_block(T)
        if B is not None:
            parts.append(self._behaviour_block(B))
        return np.hstack(parts).astype(np.float32)

    def _text_block(self, T: np.ndarray) -> list[np.ndarray]:
        """Scaled unit rows, plus the missing indicator (scaled like one text unit)."""
        if T.shape[1] != self.text_dim_:
            raise ValueError(f"text must have {self.text_dim_} columns, got {T.shape[1]}")
        U, has = self._unit_rows(T)
        w = self.text_weight * self.text_scale_
        out = [U * w]
        if self.missing_indicator:
            out.append((~has).astype(np.float32)[:, None] * self.text_weight)
        return out

    def _behaviour_block(self, B: pd.DataFrame) -> np.ndarray:
        """Imputed, logged, robust-standardised, clipped, weighted behaviour."""
        missing = [c for c in self.behaviour_columns_ if c not in map(str, B.columns)]
        if missing:
            raise ValueError(f"behaviour lacks columns {missing}")
        B = B.rename(columns=str)[self.behaviour_columns_]
        X = self._log(self._impute(B.to_numpy(dtype=np.float64)))
        Z = np.clip((X - self.center_) / self.scale_, -self.clip, self.clip)
        return Z * (self.behaviour_weight / np.sqrt(len(self.behaviour_columns_)))

    def fit_transform(self, text: Any = None, behaviour: Any = None) -> np.ndarray:
        """Fit and return the customer vectors."""
        return self.fit(text, behaviour).transform(text, behaviour)


def build_customer_vectors(
    text: Any = None, behaviour: Any = None, text_weight: float = 1.0, behaviour_weight: float = 1.0
) -> tuple[np.ndarray, CustomerFeatureBuilder]:
    """One-call helper: ``(vectors, fitted builder)``."""
    builder = CustomerFeatureBuilder(text_weight=text_weight, behaviour_weight=behaviour_weight)
    return builder.fit_transform(text, behaviour), builder
