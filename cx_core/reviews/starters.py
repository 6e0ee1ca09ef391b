"""Starter aspect lists for common industries, and picking the one that covers the data best.

Each starter is a taxonomy (aspect -> seed phrases) in the form
:mod:`cx_core.reviews.taxonomy` stores. :func:`rank_starters` measures each
one's *seed coverage* on the reviews — the share of texts in which at least one
seed phrase occurs (whole words, any case, the same matching the weak aspect
labeller uses) — and the best is chosen (pure functions; the stored taxonomy
is changed by :mod:`cx_core.reviews.taxonomy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cx_core.reviews.weak import seed_pattern

#: the needs e-commerce (clothing) reviews talk about most: the default list
FASHION: dict[str, list[str]] = {
    "price": [
        "price",
        "expensive",
        "cheap",
        "overpriced",
        "value for money",
        "worth the money",
        "on sale",
        "cost",
        "pricey",
        "affordable",
    ],
    "quality": [
        "quality",
        "well made",
        "cheaply made",
        "fell apart",
        "durable",
        "flimsy",
        "sturdy",
        "material",
        "fabric",
        "broke",
        "stitching",
        "ripped",
    ],
    "delivery": [
        "delivery",
        "shipping",
        "arrived",
        "late",
        "took weeks",
        "package",
        "courier",
        "never arrived",
        "tracking",
        "delayed",
        "shipped",
    ],
    "fit": [
        "fit",
        "size",
        "sizing",
        "too small",
        "too big",
        "too tight",
        "too loose",
        "runs small",
        "runs large",
        "true to size",
        "length",
        "petite",
    ],
    "service": [
        "customer service",
        "support",
        "staff",
        "helpful",
        "rude",
        "refund",
        "exchange",
        "response",
        "contacted",
        "return policy",
    ],
    "design": [
        "color",
        "colour",
        "style",
        "pattern",
        "design",
        "look",
        "cute",
        "beautiful",
        "pretty",
        "flattering",
    ],
    "comfort": ["comfortable", "comfy", "soft", "itchy", "scratchy", "cozy", "breathable", "warm"],
    "packaging": ["packaging", "box", "wrapped", "damaged in transit", "packed", "parcel"],
}

STARTERS: dict[str, dict[str, list[str]]] = {
    "fashion & apparel": FASHION,
    "restaurants & hospitality": {
        "food": [
            "food",
            "dish",
            "meal",
            "taste",
            "tasty",
            "delicious",
            "bland",
            "flavor",
            "flavour",
            "menu",
            "portion",
            "fresh",
            "cold food",
            "overcooked",
            "undercooked",
        ],
        "service": [
            "service",
            "waiter",
            "waitress",
            "server",
            "staff",
            "friendly",
            "rude",
            "attentive",
            "manager",
            "host",
            "hostess",
            "bartender",
        ],
        "wait time": [
            "wait",
            "waited",
            "slow",
            "took forever",
            "minutes",
            "quick",
            "reservation",
            "seated",
            "busy",
        ],
        "price": [
            "price",
            "expensive",
            "cheap",
            "overpriced",
            "value",
            "worth",
            "bill",
            "pricey",
            "affordable",
            "tip",
        ],
        "ambience": [
            "ambience",
            "ambiance",
            "atmosphere",
            "decor",
            "music",
            "noisy",
            "loud",
            "cozy",
            "view",
            "patio",
            "vibe",
        ],
        "cleanliness": ["clean", "dirty", "hygiene", "bathroom", "restroom", "sticky", "smell"],
        "drinks": ["drink", "drinks", "wine", "beer", "cocktail", "coffee", "bar", "tea"],
        "location": ["location", "parking", "downtown", "neighborhood", "easy to find"],
    },
    "consumer electronics": {
        "battery": ["battery", "battery life", "charge", "charging", "charger", "drains", "power"],
        "performance": [
            "fast",
            "slow",
            "lag",
            "performance",
            "speed",
            "crash",
            "freezes",
            "responsive",
            "processor",
        ],
        "sound": [
            "sound",
            "audio",
            "volume",
            "bass",
            "speaker",
            "noise",
            "headphones",
            "mic",
            "microphone",
            "hum",
            "tone",
        ],
        "screen": ["screen", "display", "resolution", "bright", "brightness", "pixel", "touchscreen"],
        "build quality": [
            "build quality",
            "sturdy",
            "flimsy",
            "plastic",
            "cheaply made",
            "durable",
            "broke",
            "solid",
            "well made",
            "quality",
        ],
        "setup & software": [
            "setup",
            "set up",
            "install",
            "software",
            "app",
            "firmware",
            "update",
            "driver",
            "bluetooth",
            "wifi",
            "pairing",
            "connect",
        ],
        "price": [
            "price",
            "expensive",
            "cheap",
            "value",
            "worth the money",
            "bucks",
            "overpriced",
            "affordable",
        ],
        "compatibility": [
            "compatible",
            "compatibility",
            "works with",
            "adapter",
            "cable",
            "plug",
            "fits",
            "usb",
            "jack",
        ],
        "support & warranty": ["warranty", "customer service", "support", "replacement", "refund", "return"],
    },
    "grocery & food": {
        "taste": [
            "taste",
            "tastes",
            "flavor",
            "flavour",
            "delicious",
            "bland",
            "sweet",
            "salty",
            "bitter",
            "yummy",
        ],
        "freshness": ["fresh", "stale", "expired", "expiration", "spoiled", "rotten", "moldy", "best before"],
        "ingredients": [
            "ingredients",
            "organic",
            "sugar",
            "natural",
            "healthy",
            "gluten",
            "calories",
            "protein",
            "allergy",
        ],
        "packaging": [
            "packaging",
            "package",
            "box",
            "bag",
            "jar",
            "bottle",
            "sealed",
            "leaking",
            "container",
        ],
        "price": ["price", "expensive", "cheap", "value", "worth", "pricey", "deal", "overpriced"],
        "delivery": ["delivery", "shipping", "arrived", "late", "delivered", "order"],
        "portion & size": ["size", "portion", "serving", "small", "quantity", "ounces", "pack"],
    },
    "software & services": {
        "ease of use": [
            "easy to use",
            "intuitive",
            "user friendly",
            "confusing",
            "complicated",
            "interface",
            "ui",
            "learning curve",
        ],
        "features": [
            "feature",
            "features",
            "functionality",
            "integration",
            "missing",
            "customization",
            "dashboard",
            "report",
        ],
        "reliability": [
            "bug",
            "bugs",
            "crash",
            "crashes",
            "downtime",
            "outage",
            "reliable",
            "glitch",
            "error",
            "broken",
        ],
        "performance": ["slow", "fast", "performance", "loading", "lag", "speed"],
        "support": [
            "support",
            "customer service",
            "help desk",
            "response",
            "responsive",
            "ticket",
            "agent",
            "helpful",
        ],
        "pricing": [
            "price",
            "pricing",
            "subscription",
            "expensive",
            "cheap",
            "plan",
            "billing",
            "charged",
            "fee",
            "renewal",
            "cancel",
        ],
        "onboarding": ["onboarding", "setup", "set up", "training", "documentation", "tutorial"],
        "account & security": ["account", "login", "log in", "password", "security", "privacy", "data"],
    },
    "travel & hotels": {
        "room": ["room", "bed", "bathroom", "shower", "suite", "pillow", "towels", "air conditioning"],
        "cleanliness": ["clean", "dirty", "spotless", "dusty", "stain", "smell", "housekeeping"],
        "staff & service": [
            "staff",
            "reception",
            "front desk",
            "friendly",
            "helpful",
            "rude",
            "service",
            "concierge",
        ],
        "location": [
            "location",
            "walking distance",
            "close to",
            "near",
            "beach",
            "downtown",
            "view",
            "transport",
        ],
        "breakfast & food": ["breakfast", "buffet", "restaurant", "food", "coffee", "dinner"],
        "price & value": ["price", "value", "expensive", "cheap", "worth", "overpriced", "rate"],
        "check-in": ["check in", "check-in", "checkout", "check out", "booking", "reservation", "wait"],
        "noise & sleep": ["noise", "noisy", "quiet", "loud", "sleep", "thin walls"],
        "amenities": ["pool", "gym", "spa", "wifi", "parking", "elevator", "balcony"],
    },
}


@dataclass(frozen=True)
class StarterCoverage:
    """How well one starter list covers the reviews."""

    name: str
    coverage: float  # share of texts that mention at least one seed phrase
    aspects: int
    top_aspects: dict[str, float]  # the best-covered aspects and their shares


def coverage(texts: Sequence[str], taxonomy: dict[str, list[str]]) -> tuple[float, dict[str, float]]:
    """Share of ``texts`` naming any seed phrase, and the share per aspect."""
    texts = [t or "" for t in texts]
    if not texts:
        return 0.0, {a: 0.0 for a in taxonomy}
    hit_any = np.zeros(len(texts), bool)
    per: dict[str, float] = {}
    for aspect, seeds in taxonomy.items():
        pat = seed_pattern(seeds)
        hits = np.fromiter((pat.search(t) is not None for t in texts), bool, len(texts))
        per[aspect] = float(hits.mean())
        hit_any |= hits
    return float(hit_any.mean()), per


def rank_starters(texts: Sequence[str], sample: int = 3000, seed: int = 0) -> list[StarterCoverage]:
    """Every starter's coverage on (a seeded sample of up to ``sample``) texts, best first."""
    texts = list(texts)
    if len(texts) > sample:
        pick = np.random.default_rng(seed).choice(len(texts), sample, replace=False)
        texts = [texts[i] for i in sorted(pick)]
    out = []
    for name, tax in STARTERS.items():
        share, per = coverage(texts, tax)
        top = dict(sorted(per.items(), key=lambda kv: -kv[1])[:3])
        out.append(StarterCoverage(name, round(share, 4), len(tax), {a: round(v, 3) for a, v in top.items()}))
    # the mean per-aspect share breaks ties between lists that both reach most texts
    return sorted(out, key=lambda c: (-c.coverage, -sum(c.top_aspects.values())))


def best_starter(texts: Sequence[str]) -> StarterCoverage:
    """The starter list that covers the texts best."""
    return rank_starters(texts)[0]
