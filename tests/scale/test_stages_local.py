"""The scale profile and segment pieces without Ray (fast): partitions + one fit give the
in-process profiles, the seeded sample does not depend on the partitioning, the commands parse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cx_core.scale.orders import PART, add_partition, day_range, order_mapping
from cx_core.scale.segments import KEY, keyed_batch, sample_keys, take_sample
from tests.scale.conftest import order_rows

SORT = ["customer_id", "ts", "order_id", "amount"]


def test_order_mapping_prefers_exact_names_and_takes_overrides():
    cols = ["customer_id", "Invoice", "InvoiceDate", "amount", "ts"]
    m = order_mapping(cols, {"order_id": "Invoice"})
    assert (m["customer_id"], m["ts"], m["order_id"], m["is_return"]) == (
        "customer_id",
        "ts",
        "Invoice",
        None,
    )
    with pytest.raises(ValueError, match="amount"):
        order_mapping(["customer_id", "ts"])
    with pytest.raises(ValueError, match="no such column"):
        order_mapping(cols, {"amount": "nope"})


@pytest.mark.slow  # two churn fits and a profile run (about 10 s on an idle 2-core box)
def test_partitions_and_one_fit_give_the_in_process_profiles():
    """Lines hash-partitioned by customer, each partition summarised alone, the fits done once on
    the gathered rows: the numbers of ``compute_profiles`` (what the Ray path runs, minus Ray)."""
    from cx_core.customers.profiles import ProfileSettings, compute_profiles
    from cx_core.scale.profiles import fit_clv, global_columns, make_plan, partition_rows, score_partition

    orders = order_rows(80, seed=5).sort_values(SORT, kind="stable", ignore_index=True)
    mapping = order_mapping(orders.columns)
    settings = ProfileSettings()
    plan = make_plan(settings, pd.concat([day_range(orders.iloc[k::2], mapping, None) for k in range(2)]))
    lines = add_partition(orders.sample(frac=1.0, random_state=1), mapping, 3)  # any line order
    rows = pd.concat([partition_rows(part, plan) for _, part in lines.groupby(PART)])
    rows = rows.sort_values("customer_id", ignore_index=True)
    models = fit_clv(rows, settings)
    extra, churn = global_columns(rows, settings, plan)
    got = score_partition(rows, models, settings, extra).set_index("customer_id")
    local, metrics = compute_profiles(orders, settings)
    local = local.set_index("customer_id").loc[got.index]
    for col in ("monetary_value", "p_alive", "clv", "churn_prob", "R", "F", "M"):
        np.testing.assert_allclose(got[col].astype(float), local[col].astype(float), rtol=1e-9)
    assert (got["rfm_segment"] == local["rfm_segment"]).all()
    assert churn["evaluation"]["model"] == metrics["churn"]["evaluation"]["model"]
    np.testing.assert_allclose(
        list(models.metrics["bgnbd"]["params"].values()), list(metrics["bgnbd"]["params"].values()), rtol=1e-9
    )


@pytest.mark.slow  # two churn runs (a few seconds)
def test_gathered_churn_features_fit_bgnbd_once_per_cutoff(monkeypatch):
    """Evaluation and the final churn fit share cutoffs: the scale path fits BG/NBD once per cutoff,
    as the in-process path does (it refitted each time: 105 of 114 s of the 1M-line run's fit)."""
    import cx_core.customers.churn_features as cf
    from cx_core.customers.profiles import ProfileSettings, compute_profiles
    from cx_core.scale.profiles import global_columns, make_plan, partition_rows

    fits: list[int] = []
    real = cf.fit_bgnbd
    monkeypatch.setattr(cf, "fit_bgnbd", lambda *a, **k: fits.append(1) or real(*a, **k))
    orders = order_rows(80, seed=5).sort_values(SORT, kind="stable", ignore_index=True)
    mapping = order_mapping(orders.columns)
    settings = ProfileSettings()
    plan = make_plan(settings, day_range(orders, mapping, None))
    rows = partition_rows(add_partition(orders, mapping, 1), plan).sort_values("customer_id")
    global_columns(rows, settings, plan)
    scale_fits, fits[:] = len(fits), []
    compute_profiles(orders, settings)
    assert scale_fits == len(fits) > 0


def test_the_sample_is_seeded_and_independent_of_the_partitioning():
    units = pd.DataFrame({"customer_id": [f"c{i}" for i in range(500)], "revenue": np.arange(500.0)})
    whole = take_sample(keyed_batch(units, "customer_id", ["revenue"], seed=3, keep_below=1.0), 40)
    parts = pd.concat([keyed_batch(units.iloc[k::3], "customer_id", ["revenue"], 3, 1.0) for k in range(3)])
    assert whole["unit_id"].tolist() == take_sample(parts, 40)["unit_id"].tolist()
    assert whole["unit_id"].is_monotonic_increasing and KEY not in whole
    other = take_sample(keyed_batch(units, "customer_id", ["revenue"], seed=4, keep_below=1.0), 40)
    assert set(other["unit_id"]) != set(whole["unit_id"])
    keys = sample_keys(units["customer_id"], 3)
    assert 0 <= keys.min() and keys.max() < 1


def test_scale_profile_and_segment_commands_parse():
    from cx_core.cli.main import build_parser

    p = build_parser()
    a = p.parse_args(["scale", "profile", "--input", "o/*.parquet", "--out", "r", "--map", "ts=Date"])
    assert (a.scale_command, a.map, a.horizon_weeks, a.partitions) == ("profile", ["ts=Date"], 52, None)
    a = p.parse_args(["scale", "segment", "--input", "r/shards/*.parquet", "--out", "s", "--sample", "1000"])
    assert (a.scale_command, a.sample, a.id_column, a.address) == ("segment", 1000, "customer_id", None)
