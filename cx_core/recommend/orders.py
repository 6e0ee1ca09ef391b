"""Item recommendations from order history: implicit-feedback ALS and a popularity baseline.

:class:`ItemRecommender` fits ``implicit``'s alternating least squares on a
customer x item matrix whose confidence is the number of distinct orders in
which the customer bought the item (returns and non-positive quantities
excluded).  Items a customer already bought are never recommended.  Every
recommendation carries a reason a marketer can read: the item in the
customer's history most often bought together with it ("bought by 12
customers who also bought X"), or, when no customer bought both, the closest
history item in the model's item space.  :class:`PopularityRecommender` ranks
items by the number of customers who bought them (same interface).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit warns when BLAS is multi-threaded

import numpy as np
import pandas as pd
from scipy import sparse
from threadpoolctl import threadpool_limits

from cx_core.store.db import Workspace

REC_COLUMNS = ["customer_id", "rank", "item", "item_name", "score", "reason", "because_item"]


def load_order_lines(ws: Workspace) -> pd.DataFrame:
    """Order lines usable for recommendations: identified customer, an item, a purchase that was not
    fully cancelled or returned (a customer's items whose returns cancel every unit bought are no
    evidence of what they like)."""
    return ws.query_df(
        "WITH net AS (SELECT customer_id, item, sum(CASE WHEN is_return THEN -abs(coalesce(quantity, 1)) "
        "ELSE coalesce(quantity, 1) END) AS units FROM orders "
        "WHERE customer_id IS NOT NULL AND item IS NOT NULL GROUP BY customer_id, item) "
        "SELECT o.customer_id, o.order_id, o.ts, o.item, o.item_name, o.quantity FROM orders o "
        "JOIN net ON net.customer_id = o.customer_id AND net.item = o.item "
        "WHERE NOT o.is_return AND coalesce(o.quantity, 1) > 0 AND net.units > 0"
    )


def purchases(lines: pd.DataFrame) -> pd.DataFrame:
    """Per (customer, item): the number of distinct orders containing it (the confidence)."""
    need = {"customer_id", "order_id", "item"}
    if not need <= set(lines.columns):
        raise ValueError(f"Order lines need the columns {sorted(need)}.")
    df = lines.dropna(subset=["customer_id", "item"])
    if "quantity" in df.columns:
        df = df[df["quantity"].fillna(1) > 0]
    if "is_return" in df.columns:
        df = df[~df["is_return"].astype(bool)]
    if df.empty:
        raise ValueError(
            "No purchases with a customer id and an item: load orders with an item column "
            "to get recommendations."
        )
    return (
        df.astype({"customer_id": str, "item": str})
        .groupby(["customer_id", "item"], sort=False)["order_id"]
        .nunique()
        .rename("n_orders")
        .reset_index()
    )


def _item_names(lines: pd.DataFrame) -> dict[str, str]:
    """The most frequent name of each item (the item code itself when there is none)."""
    if "item_name" not in lines.columns:
        return {}
    named = lines.dropna(subset=["item", "item_name"]).astype({"item": str})
    if named.empty:
        return {}
    counts = named.groupby(["item", "item_name"], sort=True).size().reset_index(name="n")
    counts = counts.sort_values("n", ascending=False, kind="stable").drop_duplicates("item")
    return dict(zip(counts["item"], counts["item_name"]))


class _BaseRecommender:
    """Shared state: id maps, the customer x item matrix, names, co-purchase counts."""

    def _fit_matrix(self, lines: pd.DataFrame) -> sparse.csr_matrix:
        p = purchases(lines)
        self.customers_ = pd.Index(p["customer_id"].unique())
        self.items_ = pd.Index(p["item"].unique())
        rows = self.customers_.get_indexer(p["customer_id"])
        cols = self.items_.get_indexer(p["item"])
        self.user_items_ = sparse.csr_matrix(
            (p["n_orders"].to_numpy(np.float32), (rows, cols)), shape=(len(self.customers_), len(self.items_))
        )
        self.item_names_ = _item_names(lines)
        self._item_arr = self.items_.to_numpy(dtype=object)
        self._cust_arr = self.customers_.to_numpy(dtype=object)
        self._name_arr = np.array([self.item_names_.get(i, i) for i in self._item_arr], dtype=object)
        binary = self.user_items_.copy()
        binary.data[:] = 1.0
        self.n_buyers_ = np.asarray(binary.sum(axis=0)).ravel()
        self._binary = binary
        self._cooc = (binary.T @ binary).tocsr()  # item x item: customers who bought both
        return self.user_items_

    def _rows(self, customer_ids) -> np.ndarray:
        """Matrix rows of these customers; a clear error for unknown ones."""
        if customer_ids is None:
            return np.arange(len(self.customers_))
        ids = pd.Index([str(c) for c in customer_ids])
        rows = self.customers_.get_indexer(ids)
        missing = ids[rows < 0]
        if len(missing):
            shown = ", ".join(missing[:5])
            raise ValueError(
                f"No purchases for customer(s) {shown}: recommendations need order history with items."
            )
        return rows

    def _name(self, item: str) -> str:
        return self.item_names_.get(item, item)

    def _co_buyers(self, row: int, rec_cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each recommended item: the history item most bought with it and how many bought both."""
        hist = self._binary.indices[self._binary.indptr[row] : self._binary.indptr[row + 1]]
        self._hist_cols = hist
        co = self._cooc[rec_cols][:, hist].toarray()
        best = co.argmax(axis=1)
        return hist[best], co[np.arange(len(rec_cols)), best]

    def _frame(self, rows: np.ndarray, ids: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
        out = []
        for row, cols, sc in zip(rows, ids, scores):
            keep = (cols >= 0) & np.isfinite(sc) & (sc > -1e30)  # implicit pads with -inf / filtered
            cols, sc = cols[keep], sc[keep]
            if not len(cols):
                continue
            because, counts = self._co_buyers(row, cols)
            for rank, (col, s, b, c) in enumerate(zip(cols, sc, because, counts), start=1):
                reason, b_item = self._reason(col, b, int(c))
                out.append(
                    (
                        self._cust_arr[row],
                        rank,
                        self._item_arr[col],
                        self._name_arr[col],
                        float(s),
                        reason,
                        b_item,
                    )
                )
        return pd.DataFrame(out, columns=REC_COLUMNS)

    def _reason(self, col: int, because: int, count: int) -> tuple[str, str | None]:
        if count > 0:
            people = "customer" if count == 1 else "customers"
            return (
                f"bought by {count:,} {people} who also bought {self._name_arr[because]}",
                self._item_arr[because],
            )
        return self._fallback_reason(col)

    def _fallback_reason(self, col: int) -> tuple[str, str | None]:
        n = int(self.n_buyers_[col])
        return f"popular: bought by {n:,} customer{'s' if n != 1 else ''}", None

    def history(self, customer_id) -> pd.DataFrame:
        """The items this customer bought (item, item_name, n_orders), most ordered first."""
        row = self._rows([customer_id])[0]
        sl = slice(self.user_items_.indptr[row], self.user_items_.indptr[row + 1])
        items = self.items_[self.user_items_.indices[sl]]
        df = pd.DataFrame(
            {
                "item": items,
                "item_name": [self._name(i) for i in items],
                "n_orders": self.user_items_.data[sl].astype(int),
            }
        )
        return df.sort_values(["n_orders", "item"], ascending=[False, True], ignore_index=True)


class ItemRecommender(_BaseRecommender):
    """Implicit-feedback ALS (``implicit``) over customer x item purchase counts.

    ``alpha`` scales the confidence (``1 + alpha * log1p(n_orders)`` as the
    weight handed to ALS); ``num_threads`` defaults to 1 (the app shares 2 cores).
    """

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 10.0,
        iterations: int = 15,
        random_state: int = 0,
        num_threads: int = 1,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state
        self.num_threads = num_threads

    def fit(self, lines: pd.DataFrame) -> "ItemRecommender":
        """Fit on order lines (customer_id, order_id, item[, item_name, quantity, is_return])."""
        from implicit.cpu.als import AlternatingLeastSquares

        ui = self._fit_matrix(lines)
        weights = ui.copy()
        weights.data = (1.0 + self.alpha * np.log1p(weights.data)).astype(np.float32)
        with threadpool_limits(1, "blas"):
            self.model_ = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=1.0,
                iterations=self.iterations,
                random_state=self.random_state,
                num_threads=self.num_threads,
                calculate_training_loss=False,
            )
            self.model_.fit(weights, show_progress=False)
        f = self.model_.item_factors
        self._unit_items = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        return self

    def recommend(self, customer_ids=None, n: int = 10) -> pd.DataFrame:
        """Top-``n`` items per customer (all customers when ``None``), bought items excluded."""
        if n < 1:
            raise ValueError("n must be at least 1.")
        rows = self._rows(customer_ids)
        n = min(n, len(self.items_))
        with threadpool_limits(1, "blas"):
            ids, scores = self.model_.recommend(
                rows, self.user_items_[rows], N=n, filter_already_liked_items=True
            )
        return self._frame(rows, np.atleast_2d(ids), np.atleast_2d(scores))

    def _reason(self, col: int, because: int, count: int) -> tuple[str, str | None]:
        if count > 0:
            return super()._reason(col, because, count)
        return self._latent_reason(col)

    def _latent_reason(self, col: int) -> tuple[str, str | None]:
        """No customer bought both: name the history item closest in the model's item space."""
        hist = self._hist_cols
        sims = self._unit_items[hist] @ self._unit_items[col]
        best = hist[int(np.argmax(sims))]
        return (
            f"bought by customers with baskets like yours (close to {self._name_arr[best]})",
            self._item_arr[best],
        )


class PopularityRecommender(_BaseRecommender):
    """Baseline: the items bought by the most customers, bought items excluded."""

    def fit(self, lines: pd.DataFrame) -> "PopularityRecommender":
        """Count buyers per item from order lines."""
        self._fit_matrix(lines)
        self.order_ = np.argsort(-self.n_buyers_, kind="stable")
        return self

    def recommend(self, customer_ids=None, n: int = 10) -> pd.DataFrame:
        """Top-``n`` best sellers each customer has not bought yet."""
        if n < 1:
            raise ValueError("n must be at least 1.")
        rows = self._rows(customer_ids)
        ids = np.full((len(rows), n), -1, dtype=np.int64)
        for k, row in enumerate(rows):
            ptr = self.user_items_.indptr
            bought = set(self.user_items_.indices[ptr[row] : ptr[row + 1]])
            top = [c for c in self.order_[: n + len(bought)] if c not in bought][:n]
            ids[k, : len(top)] = top
        scores = np.where(ids >= 0, self.n_buyers_[np.maximum(ids, 0)], 0.0)
        return self._frame(rows, ids, scores)
