"""Text-based item recommendations for review data without orders.

Each item gets a *praise profile*: the normalised mean embedding of the
reviews that praised it (rating >= ``praise_rating``; where the rating is
missing, a ``positive`` sentiment from the newest scoring run).  Items with
fewer than ``min_praised`` praised reviews get no profile.  A reviewer's score
for an item is the mean cosine similarity between the reviewer's praised
reviews and the item's profile (``aggregate="max"``: the best one) plus
``popularity_weight`` times the item's standardised log number of praised
reviews: text alone over-rates obscure items that read alike, popularity alone
ignores taste.  ``popularity_weight="auto"`` picks the weight per dataset on a
validation split inside ``fit`` (each reviewer's last praised review held out,
recall@10 over a small grid; :data:`DEFAULT_POPULARITY_WEIGHT` when fewer than
:data:`MIN_VALIDATION_REVIEWERS` reviewers have two praised reviews).  The
reason names the praised review (and its item) most similar to the item:
"praised for fit, like Easy linen dress you rated 5★".
Items a reviewer already reviewed (and items passed in ``exclude``, e.g. bought
ones) are never recommended.  Reviewers without a praised review get the most
praised items instead ("popular: praised by 41 reviewers").

Reviewers are customer ids; a review without one is its own anonymous reviewer
keyed ``review:<review_id>`` (see :func:`reviewer_key`, :func:`is_anonymous`).
:class:`PraisePopularityRecommender` is the baseline: most praised items first.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from scipy import sparse

from cx_core.recommend.orders import REC_COLUMNS

ANON_PREFIX = "review:"
#: praised reviews scored against all item profiles per block (bounds memory)
BLOCK_REVIEWS = 2048
#: popularity weights tried by ``popularity_weight="auto"`` (on standardised log praise counts)
WEIGHT_GRID = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5)
#: the weight used when too few reviewers allow a validation split
DEFAULT_POPULARITY_WEIGHT = 0.1
#: reviewers with two or more praised reviews needed before "auto" validates
MIN_VALIDATION_REVIEWERS = 30


def reviewer_key(customer_id: object, review_id: object) -> str:
    """The customer id, or ``review:<review_id>`` for a review without one."""
    if customer_id is None or (isinstance(customer_id, float) and np.isnan(customer_id)):
        return f"{ANON_PREFIX}{review_id}"
    return str(customer_id)


def is_anonymous(key: str) -> bool:
    """Whether a reviewer key stands for a single review without a customer id."""
    return str(key).startswith(ANON_PREFIX)


def reviewer_label(key: str) -> str:
    """How a page names a reviewer: "anonymous reviewer, review 123" or "customer 17850"."""
    if is_anonymous(key):
        return f"anonymous reviewer, review {str(key)[len(ANON_PREFIX) :]}"
    return f"customer {key}"


def item_label(item: str, item_name: str | None) -> tuple[str, str | None]:
    """How a page names an item: (name, id), or (id, None) when the name is missing or the id."""
    name = item_name.strip() if isinstance(item_name, str) else ""
    return (name, str(item)) if name and name != str(item) else (str(item), None)


def praised_mask(reviews: pd.DataFrame, praise_rating: float = 4.0) -> np.ndarray:
    """Rating >= ``praise_rating``; where the rating is missing, sentiment == 'positive'."""
    rating = pd.to_numeric(reviews.get("rating"), errors="coerce") if "rating" in reviews else None
    if rating is None:
        rating = pd.Series(np.nan, index=reviews.index)
    by_rating = (rating >= praise_rating).to_numpy()
    if "sentiment" in reviews:
        positive = reviews["sentiment"].astype("string").str.lower().eq("positive").fillna(False)
        return np.where(rating.isna().to_numpy(), positive.to_numpy(dtype=bool), by_rating)
    return by_rating


def _prepare(reviews: pd.DataFrame) -> pd.DataFrame:
    need = {"review_id", "customer_id", "item"}
    if not need <= set(reviews.columns):
        raise ValueError(f"Reviews need the columns {sorted(need)}.")
    df = reviews.reset_index(drop=True)
    keys = [reviewer_key(c, r) for c, r in zip(df["customer_id"], df["review_id"])]
    return df.assign(reviewer=keys, item=df["item"].astype("string"))


class TextRecommender:
    """Recommend items whose praise reads like the reviews a reviewer wrote in praise.

    ``min_praised``: praised reviews an item needs for a profile; ``praise_rating``:
    the lowest rating that counts as praise; ``min_aspect_mentions``: praised reviews
    that must name an aspect before a reason cites it; ``aggregate``: "mean" or "max"
    similarity over a reviewer's praised reviews; ``popularity_weight``: a float or
    "auto" (chosen in ``fit``; the choice is in ``popularity_weight_`` and
    ``validation_``).
    """

    def __init__(
        self,
        min_praised: int = 2,
        praise_rating: float = 4.0,
        min_aspect_mentions: int = 2,
        aggregate: str = "mean",
        popularity_weight: float | str = "auto",
    ) -> None:
        self.min_praised = min_praised
        self.praise_rating = praise_rating
        self.min_aspect_mentions = min_aspect_mentions
        self.aggregate = aggregate
        self.popularity_weight = popularity_weight

    # -- fit ------------------------------------------------------------------------
    def fit(
        self,
        reviews: pd.DataFrame,
        embeddings: np.ndarray,
        item_names: dict[str, str] | None = None,
        exclude: pd.DataFrame | None = None,
    ) -> "TextRecommender":
        """Fit on reviews (review_id, customer_id, item, rating[, sentiment, praised_aspects])
        and their L2-normalised ``(n, d)`` embeddings; ``exclude`` holds (customer_id, item)
        pairs never to recommend (e.g. bought items)."""
        df = _prepare(reviews)
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or len(emb) != len(df):
            raise ValueError(
                f"Need one embedding row per review: {len(df)} reviews, embeddings of shape {emb.shape}."
            )
        if df.empty:
            raise ValueError("No reviews to recommend from.")
        if self.aggregate not in ("mean", "max"):
            raise ValueError(f"aggregate must be 'mean' or 'max', not {self.aggregate!r}.")
        praised = praised_mask(df, self.praise_rating)
        self._fit_items(df, emb, praised, item_names or {})
        self._fit_reviewers(df, emb, praised, exclude)
        if self.popularity_weight == "auto":
            self.popularity_weight_, self.validation_ = self._select_weight(df, emb, praised)
        else:
            self.popularity_weight_, self.validation_ = float(self.popularity_weight), {}
        return self

    def _select_weight(self, df: pd.DataFrame, emb: np.ndarray, praised: np.ndarray) -> tuple[float, dict]:
        """The grid weight with the best recall@10 when each reviewer's last praised review is
        held out (a model with weight 0 is fitted on the rest; its text scores are reused)."""
        held = _last_praised(df, praised & df["item"].notna().to_numpy())
        if held.sum() < MIN_VALIDATION_REVIEWERS:
            return DEFAULT_POPULARITY_WEIGHT, {
                "reason": f"fewer than {MIN_VALIDATION_REVIEWERS} "
                "reviewers with two praised reviews: default weight"
            }
        params = {
            k: getattr(self, k) for k in ("min_praised", "praise_rating", "min_aspect_mentions", "aggregate")
        }
        try:
            inner = TextRecommender(**params, popularity_weight=0.0).fit(df[~held], emb[~held])
        except ValueError:
            return DEFAULT_POPULARITY_WEIGHT, {"reason": "too few reviews left to validate"}
        truth = inner.items_.get_indexer(df.loc[held, "item"].astype(str))
        rows = inner.reviewers_.get_indexer(df.loc[held, "reviewer"])
        ok = (truth >= 0) & (rows >= 0)
        rows, truth = rows[ok], truth[ok]
        ok = inner._q_start[rows + 1] > inner._q_start[rows]
        rows, truth = rows[ok], truth[ok]
        if not len(rows):
            return DEFAULT_POPULARITY_WEIGHT, {"reason": "no held-out item has a profile"}
        hits = {w: 0 for w in WEIGHT_GRID}
        for blk in inner._blocks(np.arange(len(rows))):
            base, _, _, _ = inner._base_scores(rows[blk])
            for w in WEIGHT_GRID:
                top = self._top(base + w * inner._pop_z, 10)
                hits[w] += int((top == truth[blk, None]).any(axis=1).sum())
        best = max(WEIGHT_GRID, key=lambda w: (hits[w], -w))
        return best, {
            "reviewers": int(len(rows)),
            "recall_at_10": {str(w): round(h / len(rows), 4) for w, h in hits.items()},
        }

    def _fit_items(
        self, df: pd.DataFrame, emb: np.ndarray, praised: np.ndarray, names: dict[str, str]
    ) -> None:
        has_item = df["item"].notna().to_numpy()
        pi = df.loc[praised & has_item, "item"].astype(str)
        counts = pi.value_counts()
        self.praise_counts_ = counts
        kept = counts[counts >= self.min_praised].index
        if not len(kept):
            raise ValueError(
                f"No item has {self.min_praised} or more praised reviews "
                f"(rating >= {self.praise_rating:g}): too few reviews for text "
                "recommendations."
            )
        self.items_ = pd.Index(sorted(kept))
        cols = self.items_.get_indexer(pi)
        rows = np.flatnonzero(praised & has_item)[cols >= 0]
        cols = cols[cols >= 0]
        agg = (
            sparse.csr_matrix(
                (np.ones(len(rows), np.float32), (cols, rows)), shape=(len(self.items_), len(df))
            )
            @ emb
        )
        self.profiles_ = agg / np.maximum(np.linalg.norm(agg, axis=1, keepdims=True), 1e-12)
        self.item_aspect_ = self._item_aspects(df, praised & has_item)
        self._names = np.array([names.get(i, i) for i in self.items_], dtype=object)
        self._name_map = dict(names)
        self._item_arr = self.items_.to_numpy(dtype=object)
        self._n_praised = counts.reindex(self.items_).to_numpy()
        self._popular = np.argsort(-self._n_praised, kind="stable")
        pop = np.log1p(self._n_praised.astype(float))
        self._pop_z = ((pop - pop.mean()) / pop.std() if pop.std() > 0 else 0 * pop).astype(np.float32)

    def _item_aspects(self, df: pd.DataFrame, praised: np.ndarray) -> dict[str, str]:
        """Each item's most often praised aspect (at least ``min_aspect_mentions`` mentions)."""
        if "praised_aspects" not in df:
            return {}
        tally: dict[str, Counter] = {}
        for item, aspects in zip(df.loc[praised, "item"], df.loc[praised, "praised_aspects"]):
            if isinstance(aspects, (list, tuple, np.ndarray)) and len(aspects):
                tally.setdefault(str(item), Counter()).update(str(a) for a in aspects)
        out = {}
        for item, c in tally.items():
            aspect, k = min(c.items(), key=lambda kv: (-kv[1], kv[0]))
            if k >= self.min_aspect_mentions:
                out[item] = aspect
        return out

    def _fit_reviewers(
        self, df: pd.DataFrame, emb: np.ndarray, praised: np.ndarray, exclude: pd.DataFrame | None
    ) -> None:
        self.reviewers_ = pd.Index(pd.unique(df["reviewer"]))
        r = self.reviewers_.get_indexer(df["reviewer"])
        c = self.items_.get_indexer(df["item"].fillna("").astype(str))
        pairs = [(r[c >= 0], c[c >= 0])]
        if exclude is not None and len(exclude):
            er = self.reviewers_.get_indexer(exclude["customer_id"].astype(str))
            ec = self.items_.get_indexer(exclude["item"].astype(str))
            ok = (er >= 0) & (ec >= 0)
            pairs.append((er[ok], ec[ok]))
        rr, cc = np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])
        self.seen_ = sparse.csr_matrix(
            (np.ones(len(rr), bool), (rr, cc)), shape=(len(self.reviewers_), len(self.items_))
        )
        order = np.flatnonzero(praised)
        order = order[np.argsort(r[order], kind="stable")]
        self._q_reviewer = r[order]
        self._q_emb = emb[order]
        self._q_item = df["item"].to_numpy(dtype=object)[order]
        self._q_rating = (
            pd.to_numeric(df["rating"], errors="coerce").to_numpy()[order]
            if "rating" in df
            else np.full(len(order), np.nan)
        )
        self._q_start = np.searchsorted(self._q_reviewer, np.arange(len(self.reviewers_) + 1))

    # -- recommend -------------------------------------------------------------------
    def _rows(self, reviewer_ids) -> np.ndarray:
        if reviewer_ids is None:
            return np.arange(len(self.reviewers_))
        ids = pd.Index([str(c) for c in reviewer_ids])
        rows = self.reviewers_.get_indexer(ids)
        if (rows < 0).any():
            shown = ", ".join(ids[rows < 0][:5])
            raise ValueError(
                f"No reviews for reviewer(s) {shown}: text recommendations need reviews with an item."
            )
        return rows

    def recommend(self, reviewer_ids=None, n: int = 10) -> pd.DataFrame:
        """Top-``n`` items per reviewer (every reviewer when ``None``) with reasons."""
        if n < 1:
            raise ValueError("n must be at least 1.")
        rows = self._rows(reviewer_ids)
        n = min(n, len(self.items_))
        has_q = self._q_start[rows + 1] > self._q_start[rows]
        parts = [self._text_block(blk, n) for blk in self._blocks(rows[has_q])]
        parts.append(self._popular_rows(rows[~has_q], n))
        out = pd.concat(
            [p for p in parts if len(p)] or [pd.DataFrame(columns=REC_COLUMNS)], ignore_index=True
        )
        return out[REC_COLUMNS]

    def _blocks(self, rows: np.ndarray):
        """Split reviewer rows so each block holds about ``BLOCK_REVIEWS`` praised reviews."""
        sizes = self._q_start[rows + 1] - self._q_start[rows]
        cuts = np.searchsorted(np.cumsum(sizes), np.arange(BLOCK_REVIEWS, sizes.sum(), BLOCK_REVIEWS))
        return [b for b in np.split(rows, np.unique(cuts + 1)) if len(b)]

    def _base_scores(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Text scores of reviewers ``rows`` (all with praised reviews) against every item, seen
        items at -inf; also the per-review similarities, review rows and group starts."""
        q = np.concatenate([np.arange(self._q_start[r], self._q_start[r + 1]) for r in rows])
        sizes = self._q_start[rows + 1] - self._q_start[rows]
        sims = self._q_emb[q] @ self.profiles_.T  # (reviews, items)
        starts = np.r_[0, np.cumsum(sizes)[:-1]]
        if self.aggregate == "max":
            base = np.maximum.reduceat(sims, starts, axis=0)  # (reviewers, items)
        else:
            base = np.add.reduceat(sims, starts, axis=0) / sizes[:, None]
        seen = self.seen_[rows].tocoo()
        base[seen.row, seen.col] = -np.inf
        return base, sims, q, starts

    def _text_block(self, rows: np.ndarray, n: int) -> pd.DataFrame:
        """Score one block of reviewers (vectorised): text similarity plus the popularity prior."""
        base, sims, q, starts = self._base_scores(rows)
        group = np.repeat(np.arange(len(rows)), self._q_start[rows + 1] - self._q_start[rows])
        best = base + self.popularity_weight_ * self._pop_z
        top = self._top(best, n)
        score = np.take_along_axis(best, top, axis=1)
        driver = self._drivers(sims, group, top, starts)  # (reviewers, n) review index into q
        keep = np.isfinite(score)
        rr, kk = np.nonzero(keep)
        cols, qi = top[rr, kk], q[driver[rr, kk]]
        return pd.DataFrame(
            {
                "customer_id": self._arr_reviewers()[rows[rr]],
                "rank": kk + 1,
                "item": self._item_arr[cols],
                "item_name": self._names[cols],
                "score": score[rr, kk].astype(float),
                "reason": [self._reason(c, q_) + self._praise_note(c) for c, q_ in zip(cols, qi)],
                "because_item": [_opt(self._q_item[q_]) for q_ in qi],
            }
        )

    @staticmethod
    def _top(scores: np.ndarray, n: int) -> np.ndarray:
        """Column indices of the ``n`` best scores per row, best first."""
        part = (
            np.argpartition(-scores, n - 1, axis=1)[:, :n]
            if n < scores.shape[1]
            else np.tile(np.arange(scores.shape[1]), (len(scores), 1))
        )
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
        return np.take_along_axis(part, order, axis=1)

    @staticmethod
    def _drivers(sims: np.ndarray, group: np.ndarray, top: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """For each reviewer and top item: the praised review (row of ``sims``) scoring highest."""
        vals = sims[np.arange(len(group))[:, None], top[group]]  # (reviews, n)
        out = np.empty(top.shape, dtype=np.int64)
        for k in range(top.shape[1]):
            order = np.lexsort((-vals[:, k], group))
            out[:, k] = order[starts]
        return out

    def _arr_reviewers(self) -> np.ndarray:
        if getattr(self, "_rev_arr", None) is None or len(self._rev_arr) != len(self.reviewers_):
            self._rev_arr = self.reviewers_.to_numpy(dtype=object)
        return self._rev_arr

    def _reason(self, col: int, q: int) -> str:
        """ "praised for fit, like Y you rated 5★" / "reviews read like your review of Y"."""
        because = self._q_item[q]
        aspect = self.item_aspect_.get(self._item_arr[col])
        rating = self._q_rating[q]
        if _opt(because) is None:
            return (
                f"praised for {aspect}, like a review you wrote"
                if aspect
                else "reviews read like a review you praised"
            )
        name = self._name_of(str(because))
        if aspect:
            stars = f"you rated {rating:g}★" if np.isfinite(rating) else "you praised"
            return f"praised for {aspect}, like {name} {stars}"
        return f"reviews read like your review of {name}"

    def _praise_note(self, col: int) -> str:
        """ " (praised by 41 reviewers)" when popularity counts in the score."""
        if not self.popularity_weight_:
            return ""
        cnt = int(self._n_praised[col])
        return f" (praised by {cnt:,} reviewer{'s' if cnt != 1 else ''})"

    def _name_of(self, item: str) -> str:
        return str(self._name_map.get(item, item))

    def _popular_rows(self, rows: np.ndarray, n: int) -> pd.DataFrame:
        """Most praised unseen items for reviewers without a praised review."""
        out, keys = [], self._arr_reviewers()
        for r in rows:
            seen = set(self.seen_.indices[self.seen_.indptr[r] : self.seen_.indptr[r + 1]])
            cols = [c for c in self._popular[: n + len(seen)] if c not in seen][:n]
            for k, c in enumerate(cols, start=1):
                cnt = int(self._n_praised[c])
                out.append(
                    (
                        keys[r],
                        k,
                        self._item_arr[c],
                        self._names[c],
                        float(cnt),
                        f"popular: praised by {cnt:,} reviewer{'s' if cnt != 1 else ''}",
                        None,
                    )
                )
        return pd.DataFrame(out, columns=REC_COLUMNS)

    def praised_reviews(self, reviewer: str) -> pd.DataFrame:
        """The reviewer's praised reviews used as queries (item, rating)."""
        r = self._rows([reviewer])[0]
        sl = slice(self._q_start[r], self._q_start[r + 1])
        return pd.DataFrame({"item": self._q_item[sl], "rating": self._q_rating[sl]})


class PraisePopularityRecommender(TextRecommender):
    """Baseline: the most praised items (by number of praised reviews), reviewed items excluded."""

    def __init__(self, min_praised: int = 2, praise_rating: float = 4.0) -> None:
        super().__init__(min_praised, praise_rating, popularity_weight=0.0)

    def recommend(self, reviewer_ids=None, n: int = 10) -> pd.DataFrame:
        """Top-``n`` most praised items each reviewer has not reviewed."""
        if n < 1:
            raise ValueError("n must be at least 1.")
        return self._popular_rows(self._rows(reviewer_ids), min(n, len(self.items_)))


def _last_praised(df: pd.DataFrame, praised: np.ndarray) -> np.ndarray:
    """Mask of each reviewer's last praised review (by ``ts`` when present, else row order),
    for reviewers with at least two praised reviews."""
    order = pd.DataFrame(
        {
            "reviewer": df["reviewer"].to_numpy(),
            "row": np.arange(len(df)),
            "ts": pd.to_datetime(df["ts"], errors="coerce") if "ts" in df else pd.NaT,
        }
    )
    order = order[praised].sort_values(["reviewer", "ts", "row"], kind="stable")
    counts = order.groupby("reviewer")["row"].transform("size")
    last = order[counts >= 2].groupby("reviewer").tail(1)["row"].to_numpy()
    mask = np.zeros(len(df), dtype=bool)
    mask[last] = True
    return mask


def _opt(value: object) -> str | None:
    """A value as a string, None for missing."""
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
