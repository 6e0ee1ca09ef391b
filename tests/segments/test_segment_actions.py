"""Per-segment products (lift checked by hand) and next-best-action rules (match, validate, store, page)."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest

from cx_core.safe import md_escape
from cx_core.segments.actions import (
    DEFAULT_RULES,
    Rule,
    load_rules,
    next_best_action,
    reset_rules,
    rules_from_records,
    save_rules,
    segment_actions,
    segment_metrics,
    segment_products,
    validate_rules,
)
from cx_core.store.db import Workspace
from tests.app_fixtures import XSS, app_env, new_app  # noqa: F401  (app_env is a fixture)

RUN = "seg_test_run"
SEG0 = [f"c{i}" for i in range(5)]
SEG1 = [f"c{i}" for i in range(5, 10)]
OUTLIER = ["c10"]
# (customer, item, is_return): x over-indexes in segment 0, z in segment 1, y has too few buyers,
# w is bought by everyone (lift 1), c8's z is a return and must not count.
BUYS = (
    [(c, "x", False) for c in ["c0", "c1", "c2", "c3", "c5"]]
    + [(c, "y", False) for c in ["c0", "c1"]]
    + [(c, "z", False) for c in ["c5", "c6", "c7", "c0"]]
    + [("c8", "z", True)]
    + [(c, "w", False) for c in SEG0 + SEG1 + OUTLIER]
)


def _info_rows(hostile: str = "") -> list[dict]:
    asp = lambda a, s: json.dumps([{"aspect": a, "share": 0.4, "lift": 1.5, "sentiment": s}])  # noqa: E731
    return [
        {
            "segment_id": 0,
            "name": "Big spenders " + hostile,
            "size": 5,
            "mean_clv": 900.0,
            "churn_rate": 0.6,
            "top_aspects_json": asp("delivery", -0.5),
        },
        {
            "segment_id": 1,
            "name": "Bargain hunters",
            "size": 5,
            "mean_clv": 50.0,
            "churn_rate": 0.7,
            "top_aspects_json": asp("price", -0.2),
        },
        {
            "segment_id": 2,
            "name": "Fans",
            "size": 3,
            "mean_clv": 800.0,
            "churn_rate": 0.1,
            "top_aspects_json": asp("quality", 0.8),
        },
        {
            "segment_id": 3,
            "name": "Quiet",
            "size": 3,
            "mean_clv": 40.0,
            "churn_rate": 0.2,
            "top_aspects_json": "[]",
        },
        {
            "segment_id": -1,
            "name": "Outliers",
            "size": 1,
            "mean_clv": 10.0,
            "churn_rate": 0.9,
            "top_aspects_json": "[]",
        },
    ]


def _seed(ws: Workspace, hostile: str = "") -> None:
    """A finished segment run over 11 customers plus their order lines."""
    members = [(c, 0) for c in SEG0] + [(c, 1) for c in SEG1] + [(c, -1) for c in OUTLIER]
    now = datetime(2024, 1, 1)
    with ws.write() as cur:
        for c, s in members:
            cur.execute("INSERT INTO segments VALUES (?, 'customer', ?, ?, ?, 1.0, 0, 0)", [RUN, c, s, s < 0])
        for i, (c, item, ret) in enumerate(BUYS):
            cur.execute(
                "INSERT INTO orders (dataset_id, line_no, order_id, customer_id, ts, amount, "
                "quantity, item, item_name, is_return) VALUES ('d', ?, ?, ?, ?, 1, ?, ?, ?, ?)",
                [i, f"o{i}", c, now, -1 if ret else 1, item, f"{item} {hostile}".strip(), ret],
            )
        for r in _info_rows(hostile):
            cur.execute(
                "INSERT INTO segment_info (run_id, segment_id, name, size, mean_clv, churn_rate, "
                "top_aspects_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    RUN,
                    r["segment_id"],
                    r["name"],
                    r["size"],
                    r["mean_clv"],
                    r["churn_rate"],
                    r["top_aspects_json"],
                ],
            )
        cur.execute("INSERT INTO runs VALUES (?, 'segments', 'k', '{}', ?, ?, 'done', '{}')", [RUN, now, now])
        cur.execute(
            "INSERT INTO datasets VALUES ('d', 'orders', 'synthetic', 'sha', ?, ?, 0, '{}', '{}')",
            [now, len(BUYS)],
        )  # a loaded dataset: the app does not seed the demo store


def test_lift_by_hand(ws):
    _seed(ws)
    df = segment_products(ws, RUN, top=10, min_buyers=3)
    got = {(r.segment_id, r.item): r for r in df.itertuples()}
    assert set(got) == {(0, "x"), (1, "z")}  # y: 2 buyers < 3; w: lift 1; returns do not count
    x = got[(0, "x")]
    assert (x.seg_buyers, x.seg_size, x.all_buyers) == (4, 5, 5)
    assert x.lift == pytest.approx((4 / 5) / (5 / 11))  # 11 customers in the run, outlier included
    z = got[(1, "z")]
    assert (z.seg_buyers, z.all_buyers) == (3, 4)
    assert z.lift == pytest.approx((3 / 5) / (4 / 11))
    assert list(df["rank"]) == [1, 1]
    low = segment_products(ws, RUN, min_buyers=2)
    assert {(0, "y")} <= set(zip(low["segment_id"], low["item"]))
    assert low[low["segment_id"] == 0]["item"].tolist() == ["y", "x"]  # y: (2/5)/(2/11) = 2.2 first
    with pytest.raises(ValueError, match="No segment run"):
        segment_products(ws, "nope")


def test_expected_rules_fire():
    info = pd.DataFrame(_info_rows())
    info["top_aspects"] = info["top_aspects_json"].map(json.loads)
    m = segment_metrics(info).set_index("segment_id")
    assert -1 not in m.index
    assert m.loc[0, "clv_level"] == "high" and m.loc[0, "churn_level"] == "high"
    assert m.loc[0, "complaints"] == ["delivery"] and m.loc[2, "complaints"] == []
    acts = segment_actions(info, list(DEFAULT_RULES)).set_index("segment_id")
    assert "Service-recovery" in acts.loc[0, "action"] and acts.loc[0, "fix"] == "delivery"
    assert acts.loc[1, "rule"] == "Low value, at risk" and acts.loc[1, "fix"] == "price"
    assert "VIP" in acts.loc[2, "action"] and acts.loc[2, "fix"] is None
    assert acts.loc[3, "rule"] == "Low value, loyal"
    rule, action, fix = next_best_action(
        {"clv_level": "high", "churn_level": "high", "complaints": ["fit"]}, list(DEFAULT_RULES)
    )
    assert rule.name == "Valuable, at risk, other complaints" and fix == "fit"
    assert (
        next_best_action({"clv_level": None, "churn_level": None}, list(DEFAULT_RULES))[0].name
        == "Everyone else"
    )
    assert next_best_action({}, [Rule("only", "high", action="x")]) == (None, None, None)


@pytest.mark.parametrize(
    "bad, msg",
    [
        (Rule("", action="a"), "name"),
        (Rule("n", clv="medium", action="a"), "clv must be"),
        (Rule("n", complaint="<script>", action="a"), "complaint must be"),
        (Rule("n", action=" "), "action must be"),
        (Rule("n", action="a", fix="DROP TABLE"), "fix must be"),
    ],
)
def test_bad_rules_refused(ws, bad, msg):
    with pytest.raises(ValueError, match=msg):
        save_rules(ws, [bad])
    with pytest.raises(ValueError, match="used twice"):
        validate_rules([Rule("a", action="x"), Rule("A ", action="y")])
    with pytest.raises(ValueError, match="at least one"):
        validate_rules([])
    assert load_rules(ws) == list(DEFAULT_RULES)  # nothing was stored


def test_rules_round_trip(ws):
    mine = [
        Rule("Vip", "high", "low", "none", "Early access", ""),
        Rule("Rest", action="Newsletter", fix="{complaint}"),
    ]
    save_rules(ws, mine)
    assert load_rules(ws) == mine
    edited = rules_from_records(
        [
            {
                "name": " Vip ",
                "clv": "high",
                "churn": float("nan"),
                "complaint": None,
                "action": "Early access",
                "fix": None,
            }
        ]
    )
    assert edited == [Rule("Vip", "high", "any", "any", "Early access", "")]
    reset_rules(ws)
    assert load_rules(ws) == list(DEFAULT_RULES)
    with ws.write() as cur:
        cur.execute("INSERT OR REPLACE INTO meta VALUES ('nba_rules', '{not json')")
    with pytest.raises(ValueError, match="unreadable"):
        load_rules(ws)


def test_segment_mode_page_escapes(app_env, monkeypatch):  # noqa: F811
    from cx_core.config import load_config

    monkeypatch.setenv("CX_DEMO_CUSTOMERS", "0")
    ws = Workspace.open(load_config().db)
    try:
        _seed(ws, hostile=XSS + " *bold*")
    finally:
        ws.close()
    at = new_app()
    at.switch_page("pages/recommend.py").run()
    assert not at.exception, at.exception
    at.radio(key="recommend_mode").set_value("Segment").run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in [*at.markdown, *at.subheader])
    assert md_escape("Service-recovery") in text and "Fix: **delivery**" in text
    assert "rule: " + md_escape("Valuable, at risk, delivery complaints") in text
    assert XSS not in text and md_escape(XSS) in text and "*bold*" not in text
    products = at.dataframe[-1].value  # [0] is the rule editor
    assert list(products["Item code"]) == ["x"]  # plain column labels (cx_core/plots/format.py)
    # a bad edit is refused with a plain message, nothing stored
    at.button(key="nba_save").click().run()
    assert not at.exception, at.exception
    assert not at.error and any("Rules saved" in m.value for m in at.success)
