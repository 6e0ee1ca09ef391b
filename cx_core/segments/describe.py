"""Describe each segment: name, distinctive words, aspects, value, churn, sentiment, examples.

Names come from c-TF-IDF over the segment's reviews (BERTopic's class-based
TF-IDF, :class:`~cx_core.cluster.CTfidfRepresentation`), prefixed by the
segment's dominant aspect when review scores exist and one aspect stands out;
segments without any review text are named by the behaviour traits that set
them apart.  No personal data in names or keywords: the texts are scrubbed of
emails, phone numbers and 5+ digit runs before words are counted, and every name
and keyword goes through :func:`cx_core.ingest.pii_scrub.mask_generated` as well.
Pure pandas/numpy: the run module reads and writes the tables.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from cx_core.cluster import OUTLIER, CTfidfRepresentation, readable_name, representative_indices
from cx_core.ingest.pii_scrub import is_pii_word, mask_generated
from cx_core.segments.inputs import SegmentInputs, parse_json

N_REPRESENTATIVE = 3
SNIPPET_CHARS = 600
ASPECT_NAME_SHARE = 0.3  # an aspect names a segment when this share of its reviews mention it
ASPECT_NAME_LIFT = 1.5  # ... and that is this many times its share over all reviews
TRAIT_NAME_Z = 0.5  # a behaviour trait this far (robust z) from the median joins the name
#: contractions and fillers that would otherwise name segments ("ve" from "I've", "really")
EXTRA_STOP_WORDS = frozenset(
    {
        "ve",
        "ll",
        "re",
        "im",
        "don",
        "didn",
        "doesn",
        "isn",
        "wasn",
        "really",
        "just",
        "got",
        "get",
        "bit",
        "lot",
        "thing",
        "things",
    }
)
TRAIT_LABELS = {
    "recency_days": ("long since last order", "recent buyers"),  # (high, low)
    "n_orders": ("many orders", "few orders"),
    "revenue": ("high revenue", "low revenue"),
    "aov": ("large baskets", "small baskets"),
    "tenure_days": ("long-standing", "new"),
    "return_rate": ("frequent returns", "rare returns"),
    "clv": ("high CLV", "low CLV"),
    "p_alive": ("likely active", "likely lapsed"),
    "churn_prob": ("churn risk", "loyal"),
    "discount_share": ("discount buyers", "full-price buyers"),
    "price_level": ("premium items", "budget items"),
    "mean_rating": ("high ratings", "low ratings"),
    "mean_sentiment": ("positive", "negative"),
    "mean_risk": ("complaint risk", "low risk"),
}


def review_labels(inputs: SegmentInputs, labels: np.ndarray) -> np.ndarray:
    """The segment of each review (its unit's)."""
    return labels[inputs.reviews["unit"].to_numpy()] if len(inputs.reviews) else np.array([], int)


def keywords(inputs: SegmentInputs, rlab: np.ndarray) -> dict[int, list[tuple[str, float]]]:
    """Top c-TF-IDF words per segment over the reviews (empty without reviews).

    The texts are scrubbed of personal data before counting (the representation
    does it) and no returned word holds an email, phone number or 5+ digit run.
    """
    if not len(inputs.reviews):
        return {}
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    stop = sorted(ENGLISH_STOP_WORDS | EXTRA_STOP_WORDS)
    rep = CTfidfRepresentation(top_k=10, stop_words=stop, scrub_pii=True).fit(
        inputs.reviews["doc"].tolist(), rlab
    )
    return {int(k): [(w, s) for w, s in v if not is_pii_word(w)] for k, v in rep.top_words_.items()}


def aspect_table(inputs: SegmentInputs, rlab: np.ndarray) -> pd.DataFrame:
    """Long table: segment_id, aspect, mentions, share of the segment's reviews, mean aspect sentiment."""
    r = inputs.reviews
    if not len(r) or r["aspects"].isna().all():
        return pd.DataFrame(columns=["segment_id", "aspect", "mentions", "share", "sentiment"])
    rows = []
    for seg, asp, sent in zip(rlab, r["aspects"], r["aspect_sentiment_json"]):
        scores = parse_json(sent, {}) or {}
        for a in asp if asp is not None else []:
            rows.append((int(seg), str(a), scores.get(a)))
    long = pd.DataFrame(rows, columns=["segment_id", "aspect", "sentiment"])
    n_reviews = pd.Series(rlab).value_counts()
    out = (
        long.groupby(["segment_id", "aspect"])
        .agg(mentions=("aspect", "size"), sentiment=("sentiment", "mean"))
        .reset_index()
    )
    out["share"] = out["mentions"] / out["segment_id"].map(n_reviews)
    return out[["segment_id", "aspect", "mentions", "share", "sentiment"]]


def top_aspects(aspects: pd.DataFrame, seg: int, n_reviews_total: int, k: int = 5) -> list[dict]:
    """The segment's most mentioned aspects with share, lift over all reviews and sentiment."""
    if aspects.empty or not n_reviews_total:
        return []
    overall = aspects.groupby("aspect")["mentions"].sum() / n_reviews_total
    mine = (
        aspects[aspects["segment_id"] == seg]
        .sort_values(["share", "aspect"], ascending=[False, True])
        .head(k)
    )
    return [
        {
            "aspect": a.aspect,
            "share": round(float(a.share), 4),
            "lift": round(float(a.share / overall[a.aspect]), 3) if overall[a.aspect] else None,
            "sentiment": None if pd.isna(a.sentiment) else round(float(a.sentiment), 4),
        }
        for a in mine.itertuples()
    ]


def traits(inputs: SegmentInputs, labels: np.ndarray, seg: int, k: int = 3) -> list[dict]:
    """Columns whose segment median is furthest from the overall median (robust z), with labels."""
    frames = [f for f in (inputs.behaviour, inputs.signals) if f is not None]
    if not frames:
        return []
    B = pd.concat(frames, axis=1)
    med = B.median()
    q = B.quantile([0.25, 0.75])
    scale = ((q.loc[0.75] - q.loc[0.25]) / 1.349).where(lambda s: s > 1e-9, B.std()).replace(0, np.nan)
    mine = B[labels == seg].median()
    z = ((mine - med) / scale).dropna()
    out = []
    for col in z.abs().sort_values(ascending=False).index[:k]:
        hi, lo = TRAIT_LABELS.get(col, (f"high {col}", f"low {col}"))
        out.append(
            {
                "column": col,
                "label": hi if z[col] > 0 else lo,
                "z": round(float(z[col]), 3),
                "segment": _num(mine[col]),
                "overall": _num(med[col]),
            }
        )
    return [t for t in out if abs(t["z"]) >= 0.25]


def _num(v: Any) -> float | None:
    """A JSON-safe float."""
    return None if v is None or pd.isna(v) else round(float(v), 4)


def representatives(inputs: SegmentInputs, rlab: np.ndarray) -> dict[int, list[dict]]:
    """The reviews nearest each segment's review-embedding centre."""
    if inputs.review_vectors is None or not len(inputs.reviews):
        return {}
    idx = representative_indices(inputs.review_vectors, rlab, k=N_REPRESENTATIVE)
    r = inputs.reviews
    return {
        seg: [
            {
                "review_id": str(r["review_id"].iat[i]),
                "rating": _num(r["rating"].iat[i]),
                "text": str(r["doc"].iat[i])[:SNIPPET_CHARS],
            }
            for i in rows
        ]
        for seg, rows in idx.items()
    }


def segment_name(seg: int, words: list[str], aspects: list[dict], trait_list: list[dict]) -> str:
    """Readable name: [dominant aspect — ] top words [· strongest trait], or traits, or 'Segment n'."""
    if seg == OUTLIER:
        return "Outliers"
    name = readable_name(words, 3)
    lead = next(
        (
            a["aspect"]
            for a in aspects[:1]
            if a["share"] >= ASPECT_NAME_SHARE and (a["lift"] or 0) >= ASPECT_NAME_LIFT
        ),
        None,
    )
    if lead and name:
        name = f"{lead} — {name}"
    strong = [t for t in trait_list if abs(t["z"]) >= TRAIT_NAME_Z]
    if name and strong:
        name = f"{name} · {strong[0]['label']}"
    if not name and trait_list:
        name = ", ".join(t["label"] for t in trait_list[:2])
    name = str(mask_generated(name)) if name else f"Segment {seg}"
    return name[:1].upper() + name[1:]


def _unique_names(names: dict[int, str]) -> dict[int, str]:
    """Suffix repeated names with the segment id so every segment reads differently."""
    counts = pd.Series(list(names.values())).value_counts()
    return {s: (f"{n} ({s})" if counts[n] > 1 and s != OUTLIER else n) for s, n in names.items()}


def _mean(values: pd.Series | None, mask: np.ndarray) -> float | None:
    """Mean of the masked values, None when there are none."""
    if values is None:
        return None
    v = values.to_numpy(dtype=float)[mask]
    v = v[np.isfinite(v)]
    return round(float(v.mean()), 6) if v.size else None


def describe(inputs: SegmentInputs, labels: np.ndarray) -> pd.DataFrame:
    """One row per segment id (the outlier row -1 included when present), segment_info columns."""
    rlab = review_labels(inputs, labels)
    words, reps = keywords(inputs, rlab), representatives(inputs, rlab)
    aspects = aspect_table(inputs, rlab)
    sent = inputs.reviews["sentiment_score"] if len(inputs.reviews) else None
    val = inputs.value
    revenue = None if val is None else val["revenue"].clip(lower=0).fillna(0.0)
    total_rev = None if revenue is None else float(revenue.sum())
    rows, names = [], {}
    for seg in sorted(set(labels.tolist())):
        mask = labels == seg
        rmask = rlab == seg
        asp = top_aspects(aspects, seg, len(rlab))
        tr = traits(inputs, labels, seg)
        names[seg] = segment_name(seg, [w for w, _ in words.get(seg, [])], asp, tr)
        rows.append(
            {
                "segment_id": int(seg),
                "size": int(mask.sum()),
                "share": float(mask.mean()),
                "keywords_json": json.dumps([[w, round(s, 5)] for w, s in words.get(seg, [])]),
                "revenue_share": (float(revenue[mask].sum() / total_rev) if total_rev else None),
                "mean_clv": None if val is None else _mean(val["clv"], mask),
                "churn_rate": None if val is None else _mean(val["churn"], mask),
                "mean_sentiment": None if sent is None or not rmask.any() else _mean(sent, rmask),
                "top_aspects_json": json.dumps(asp),
                "representative_json": json.dumps(reps.get(seg, []), ensure_ascii=False),
                "traits_json": json.dumps(tr),
            }
        )
    names = _unique_names(names)
    out = pd.DataFrame(rows)
    out.insert(1, "name", out["segment_id"].map(names))
    return out
