"""Guidance instead of dead ends (issue #15), one AppTest per state: reviews only, orders only, no
reviews scored, outliers above 30 % with the fix buttons, themes mostly uncovered, several sources
with disjoint dates. Every state is seeded straight into a fresh workspace (fast, no model)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pandas as pd
import pytest

import pages._run as page_run
from cx_core.config import load_config
from cx_core.reviews.taxonomy import load_taxonomy
from cx_core.store.db import Workspace
from tests.app.test_page_export import export_env  # noqa: F401  (fixture: empty workspace)
from tests.app_fixtures import XSS, new_app
from tests.drivers_fixtures import add_reviews, insert

RAW_TAG = re.compile(r"(?<!\\)<img")


def _text(at) -> str:
    return " ".join(e.value for e in [*at.info, *at.warning, *at.caption, *at.markdown]).replace("\\", "")


def _no_raw_html(at) -> None:
    for el in [*at.markdown, *at.caption, *at.success, *at.warning, *at.error, *at.info]:
        assert not RAW_TAG.search(el.value), el.value


def _page(path: str):
    at = new_app()
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def _orders(ws, n: int = 40, end: datetime = datetime(2011, 12, 9, 12), customer=lambda i: f"c{i % 9}"):
    insert(
        ws,
        "orders",
        pd.DataFrame(
            {
                "dataset_id": "ds_orders",
                "line_no": range(n),
                "order_id": [f"o{i}" for i in range(n)],
                "customer_id": [customer(i) for i in range(n)],
                "ts": [end - timedelta(days=9 * i) for i in range(n)],
                "item": [f"i{i % 5}" for i in range(n)],
                "amount": [10.0 + i for i in range(n)],
                "is_return": False,
            }
        ),
    )


def test_orders_only_pages_say_reviews_are_missing(export_env):  # noqa: F811
    _orders(export_env)
    export_env.close()
    for path in ("pages/reviews.py", "pages/themes.py"):
        at = _page(path)
        text = _text(at)
        assert "no reviews loaded" in text and "40 order lines" in text, text
        assert not [b for b in at.button if b.label in ("Score reviews", "Discover themes")]


def test_reviews_only_customers_and_segments(export_env):  # noqa: F811
    add_reviews(export_env, [datetime(2013, 6, 1)] * 3, [4.0] * 3, ["a", "b", "c"], [{}] * 3, run_id=None)
    export_env.close()
    at = _page("pages/customers.py")
    assert "You loaded reviews only (3 reviewers)" in _text(at)
    assert not [b for b in at.button if b.label == "Compute profiles"]
    at = _page("pages/segments.py")  # segments run on review text alone: offered
    assert any("Run segmentation" in b.label for b in at.button)


def test_no_reviews_scored_points_to_scoring(export_env):  # noqa: F811
    add_reviews(export_env, [datetime(2013, 6, 1)] * 3, [4.0] * 3, ["a", "b", "c"], [{}] * 3, run_id=None)
    export_env.close()
    at = new_app()
    assert "Score the reviews on the **Reviews** page" in _text(at)
    assert any("No aspect scores yet" in i.value for i in at.info)
    at = _page("pages/reviews.py")
    assert any("No review scores yet" in i.value for i in at.info)
    assert [b for b in at.button if b.label == "Score reviews"]


def _segment_run(ws, noise: float, min_size: int) -> None:
    """A stored segment run of 10 customers, ``noise`` of them outliers, one segment named XSS."""
    config = {"unit_kind": "customer", "strategy": "single", "min_segment_size": min_size, "seed": 42}
    metrics = {"n": 10, "unit_kind": "customer", "n_segments": 1, "noise_share": noise, "text_coverage": 1.0}
    now = datetime.now()
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO runs VALUES ('seg_1', 'segments', 'x', ?, ?, ?, 'done', ?)",
            [json.dumps(config), now, now, json.dumps(metrics)],
        )
        n_out = round(10 * noise)
        for i in range(10):
            seg = -1 if i < n_out else 0
            cur.execute(
                "INSERT INTO segments VALUES ('seg_1', 'customer', ?, ?, ?, 0.9, ?, 1.0)",
                [f"c{i}", seg, seg < 0, float(i)],
            )
        for seg, name, size in ((0, XSS, 10 - n_out), (-1, "Outliers", n_out)):
            cur.execute(
                "INSERT INTO segment_info (run_id, segment_id, name, keywords_json, size, share, "
                "revenue_share, mean_clv, churn_rate, mean_sentiment, top_aspects_json, "
                "representative_json, traits_json) VALUES ('seg_1', ?, ?, '[]', ?, ?, 0.5, 1234.5, "
                "0.2, 0.1, '[]', '[]', '[]')",
                [seg, name, size, size / 10],
            )


def test_outliers_above_30_percent_offer_two_fixes(export_env, monkeypatch):  # noqa: F811
    _orders(export_env, customer=lambda i: f"c{i % 10}")
    _segment_run(export_env, noise=0.7, min_size=20)
    export_env.close()
    started = []
    monkeypatch.setattr(
        page_run, "run_stage", lambda name, settings=None, encoder=None: started.append(settings)
    )
    at = _page("pages/segments.py")
    assert any("70% of customers fit no segment" in w.value for w in at.warning)
    text = _text(at)
    assert "puts every outlier into the segment it is closest to" in text
    assert "Lets groups of 10 or more customers count as a segment (now 20)" in text
    assert all(m.proto.delta == "" for m in at.metric)  # no chip that looks like a change
    at.button(key="seg_fix_smaller").click().run()
    assert started[-1].min_size == 10 and not started[-1].assign_outliers
    at.button(key="seg_fix_assign").click().run()
    assert started[-1].assign_outliers
    _no_raw_html(at)


def test_outliers_below_30_percent_no_fix_block(export_env):  # noqa: F811
    _orders(export_env, customer=lambda i: f"c{i % 10}")
    _segment_run(export_env, noise=0.2, min_size=20)
    export_env.close()
    at = _page("pages/segments.py")
    assert not [b for b in at.button if b.key == "seg_fix_smaller"]
    assert any("fit no segment" in i.value for i in at.info)


def _theme_run(ws, covered: list[str | None]) -> None:
    now = datetime.now()
    metrics = {"n_themes": len(covered), "n_new_themes": sum(c is None for c in covered), "n_reviews": 90}
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO runs VALUES ('th_1', 'themes', 'x', '{}', ?, ?, 'done', ?)",
            [now, now, json.dumps(metrics)],
        )
        for i, cov in enumerate(covered):
            name = XSS if i == 0 else f"theme words {i}"
            cur.execute(
                "INSERT INTO themes (run_id, theme_id, name, keywords_json, size, share, outlier_members, "
                "representative_json, overlap_json, covered_by, promoted_as) "
                "VALUES ('th_1', ?, ?, ?, ?, ?, 0, '[]', '{}', ?, NULL)",
                [i, name, json.dumps([[f"word{i}", 1.0], [f"other{i}", 0.5]]), 30 - i, (30 - i) / 90, cov],
            )


def test_themes_mostly_uncovered_offer_promotion(export_env):  # noqa: F811
    add_reviews(export_env, [datetime(2013, 6, 1)] * 3, [4.0] * 3, ["a", "b", "c"], [{}] * 3, run_id=None)
    _theme_run(export_env, [None, None, None, "fit"])
    export_env.close()
    at = _page("pages/themes.py")
    assert any("3 of 4 themes are not covered" in w.value for w in at.warning)
    assert "**Model** page" in _text(at)
    _no_raw_html(at)
    at.button(key="themes_promote_top").click().run()
    assert not at.exception, at.exception
    ws = Workspace.open(load_config().db)
    try:
        added = set(load_taxonomy(ws)) - {"fit"}
    finally:
        ws.close()
    assert {"theme words 1", "theme words 2"} <= added and len(added) >= 3


def test_themes_mostly_covered_no_warning(export_env):  # noqa: F811
    add_reviews(export_env, [datetime(2013, 6, 1)] * 3, [4.0] * 3, ["a", "b", "c"], [{}] * 3, run_id=None)
    _theme_run(export_env, ["fit", "price", None])
    export_env.close()
    at = _page("pages/themes.py")
    assert not [b for b in at.button if b.key == "themes_promote_top"]


@pytest.fixture
def disjoint(export_env):  # noqa: F811
    """Orders 2009-12 .. 2011-12-09, reviews 2005 .. 2013-06-15, no shared customer."""
    _orders(export_env, n=80)
    rts = [datetime(2013, 6, 15) - i * 30 * timedelta(days=1) for i in range(100)]
    add_reviews(export_env, rts, [4.0] * 100, [f"r{i}" for i in range(100)], [{}] * 100, run_id=None)
    export_env.close()


def test_several_sources_with_disjoint_dates(disjoint, monkeypatch):
    monkeypatch.setenv("CX_UI_CURRENCY", "£")
    at = new_app()
    metrics = {m.label: m for m in at.metric}
    revenue = metrics["Revenue"]
    assert revenue.value.startswith("£") and revenue.delta not in (None, "", "+£0")
    assert "2011-12-09" in revenue.proto.help  # compared on the orders' own dates
    assert "2013-06-15" in metrics["Reviews"].proto.help  # the reviews' own dates
    assert any(w.value.startswith("0 of") for w in at.warning)  # reviewers match no order customer
    assert "each source within its own dates" in _text(at)


def test_currency_chosen_on_screen_shows_on_money(export_env):  # noqa: F811
    _orders(export_env, n=80)
    export_env.close()
    at = _page("pages/data.py")
    at.selectbox(key="currency_pick").set_value("€").run()
    at.switch_page("pages/overview.py").run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Revenue"].startswith("€")
