"""Starter aspect lists for every industry: the best-covering one is chosen from the reviews."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from cx_core.reviews.starters import STARTERS, rank_starters
from cx_core.reviews.taxonomy import (
    add_aspect,
    apply_starter,
    auto_choose_starter,
    current_starter,
    load_taxonomy,
)
from tests.conftest import shared

RESTAURANT = [
    "The food was delicious and the waiter was very friendly.",
    "We waited forty minutes to be seated even with a reservation.",
    "Great atmosphere and music, but the dish was bland and overpriced.",
    "The menu is small; portions are generous and the wine list is good.",
    "Dirty bathroom and rude staff, the food came cold.",
]
HOTEL = [
    "The room was spotless and the bed very comfortable.",
    "Front desk staff were helpful at check-in; great location near the beach.",
    "Breakfast buffet was average and the wifi kept dropping.",
    "Noisy at night, thin walls, could not sleep. The pool was nice.",
    "Booking was easy and the view from the balcony was stunning.",
]


def test_every_industry_has_a_list():
    assert set(STARTERS) == {
        "fashion & apparel",
        "restaurants & hospitality",
        "consumer electronics",
        "grocery & food",
        "software & services",
        "travel & hotels",
    }
    assert all(len(t) >= 6 and all(seeds for seeds in t.values()) for t in STARTERS.values())


def test_restaurant_and_hotel_fixture():
    assert rank_starters(RESTAURANT)[0].name == "restaurants & hospitality"
    assert rank_starters(HOTEL)[0].name == "travel & hotels"


def test_clothing_reviews_choose_fashion():
    df = pd.read_csv(
        shared("womens_clothing_reviews/womens_clothing_ecommerce_reviews.csv.gz"), nrows=3000
    ).dropna(subset=["Review Text"])
    ranked = rank_starters(df["Review Text"].tolist())
    assert ranked[0].name == "fashion & apparel" and ranked[0].coverage > 0.85


def test_amazon_instrument_reviews_choose_electronics():
    with gzip.open(shared("amazon_musical_instruments/reviews_Musical_Instruments_5.json.gz"), "rt") as f:
        texts = [json.loads(line).get("reviewText", "") for _, line in zip(range(3000), f)]
    ranked = rank_starters(texts)
    assert ranked[0].name == "consumer electronics" and ranked[0].coverage > 0.6


def _add_reviews(ws, texts):
    with ws.write() as cur:
        for i, t in enumerate(texts):
            cur.execute(
                "INSERT INTO reviews (dataset_id, review_id, text, text_hash) VALUES ('d', ?, ?, sha256(?))",
                [f"r{i}", t, t],
            )


def test_auto_choice_follows_data_until_a_person_picks(ws):
    assert current_starter(ws) == "fashion & apparel"  # no reviews yet: the fashion list
    _add_reviews(ws, RESTAURANT)
    out = auto_choose_starter(ws)
    assert out["starter"] == "restaurants & hospitality" and current_starter(ws) == out["starter"]
    assert out["coverage"]["restaurants & hospitality"] > out["coverage"]["software & services"]
    add_aspect(ws, "kids menu", ["kids menu", "high chair"])
    apply_starter(ws, "travel & hotels")  # a person's pick: kept, their own aspect too
    assert "kids menu" in load_taxonomy(ws) and current_starter(ws) == "travel & hotels"
    assert auto_choose_starter(ws)["starter"] == "travel & hotels"
    with pytest.raises(ValueError):
        apply_starter(ws, "nope")
