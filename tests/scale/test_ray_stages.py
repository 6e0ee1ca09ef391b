"""Profiles and segments on a local Ray (2 CPUs, one Ray for the module): the in-process numbers,
labels and placements; every unit exactly once, also when a worker process is killed mid-run; the
runs import as profiles and segments runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cx_core.scale.manifest import shard_dir
from tests.scale.conftest import order_rows
from tests.scale.faults import DyingPlacer

pytestmark = pytest.mark.slow

CUSTOMERS = 120
SORT = ["customer_id", "ts", "order_id", "amount"]


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    """The order lines in the order a partition sorts them (so in-process sums run the same way)."""
    return order_rows(CUSTOMERS).sort_values(SORT, kind="stable", ignore_index=True)


@pytest.fixture(scope="module")
def profile_run(ray_local, scale_root, orders):
    """One profile run over 3 Parquet files (lines interleaved across files) in 3 partitions."""
    from cx_core.customers.profiles import ProfileSettings
    from cx_core.scale.profiles_run import ProfileScaleSettings, run_profiles

    for k in range(3):
        orders.iloc[k::3].to_parquet(scale_root / f"orders-{k}.parquet", index=False)
    settings = ProfileScaleSettings(
        inputs=(str(scale_root / "orders-*.parquet"),),
        out_dir=str(scale_root / "profiles"),
        profile=ProfileSettings(),
        workers=1,
        partitions=3,
    )
    manifest = run_profiles(settings)
    return manifest, pd.read_parquet(shard_dir(scale_root / "profiles"))


def _close(a, b) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    both = np.isfinite(a) & np.isfinite(b)
    same_gaps = np.array_equal(np.isfinite(a), np.isfinite(b))
    return same_gaps and bool(np.all(np.abs(a[both] - b[both]) <= 1e-9 * np.maximum(np.abs(b[both]), 1e-12)))


def _params_close(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    assert _close(list(got.values()), list(expected.values())), (got, expected)


def test_ray_profiles_equal_the_in_process_profiles(profile_run, orders):
    from cx_core.customers.profiles import PROFILE_COLUMNS, ProfileSettings, compute_profiles

    manifest, got = profile_run
    local, metrics = compute_profiles(orders, ProfileSettings())
    got, local = got.set_index("customer_id").sort_index(), local.set_index("customer_id").sort_index()
    assert list(got.index) == list(local.index) and len(got) == CUSTOMERS
    for col in PROFILE_COLUMNS[1:]:
        if col not in got:
            assert local[col].isna().all(), col  # text columns: NULL without review scores
        elif pd.api.types.is_numeric_dtype(local[col]):
            assert _close(got[col], local[col]), col
        elif col.endswith("_purchase"):
            assert (pd.to_datetime(got[col]) == pd.to_datetime(local[col])).all(), col
        else:
            assert (got[col].astype(str) == local[col].astype(str)).all(), col
    ours = manifest["metrics"]
    _params_close(ours["bgnbd"]["params"], metrics["bgnbd"]["params"])
    _params_close(ours["gamma_gamma"]["params"], metrics["gamma_gamma"]["params"])
    assert ours["churn"]["method"] == metrics["churn"]["method"]
    assert ours["churn"]["evaluation"]["model"] == metrics["churn"]["evaluation"]["model"]
    assert (ours["window_start"], ours["window_end"]) == (metrics["window_start"], metrics["window_end"])
    assert manifest["lines"] == len(orders) and {w["stage"] for w in manifest["workers"]} == {
        "partition",
        "score",
    }


def test_profile_run_imports_as_a_profiles_run(profile_run, scale_root, ws):
    from cx_core.customers.profiles import load_profiles
    from cx_core.scale.store import import_run
    from cx_core.store import runs

    res = import_run(ws, scale_root / "profiles")
    assert res.kind == "profiles" and res.rows == CUSTOMERS
    run = runs.latest(ws, runs.StageName.PROFILES)
    assert run.run_id == res.run_id and run.metrics["engine"] == "ray"
    assert run.metrics["bgnbd"] == profile_run[0]["metrics"]["bgnbd"]
    shown = load_profiles(ws, res.run_id)
    assert len(shown) == CUSTOMERS and shown["n_reviews"].isna().all()
    with pytest.raises(ValueError, match="already imported"):
        import_run(ws, scale_root / "profiles")


@pytest.fixture(scope="module")
def segment_run(profile_run, scale_root):
    """Segments over the profile shards: 60 units fitted, the other 60 placed."""
    from cx_core.scale.segments_run import SegmentScaleSettings, run_segments
    from cx_core.segments.run import SegmentSettings

    settings = SegmentScaleSettings(
        inputs=(str(shard_dir(scale_root / "profiles") / "*.parquet"),),
        out_dir=str(scale_root / "segments"),
        segments=SegmentSettings(preset="fast", unit="customer", seed=7),
        sample=60,
        batch_units=40,
    )
    return settings, run_segments(settings), pd.read_parquet(shard_dir(scale_root / "segments"))


def test_ray_segments_equal_the_in_process_fit_and_placement(segment_run, profile_run):
    from cx_core.cluster import CustomerFeatureBuilder, NeighbourPlacer
    from cx_core.scale.segments import feature_columns, sample_inputs, value_frame
    from cx_core.segments.fit import fit_segments

    settings, manifest, got = segment_run
    units = profile_run[1].rename(columns={"customer_id": "unit_id"})
    assert sorted(got["unit_id"]) == sorted(units["unit_id"])  # every unit exactly once
    sample_ids = sorted(got.loc[~got["placed"], "unit_id"])
    counts = dict(manifest["counts"])
    shards = counts.pop("shards")
    assert len(sample_ids) == 60 and counts == {"rows": 120, "sample": 60, "placed": 60}
    inputs = list(shard_dir(Path(settings.inputs[0]).parents[1]).glob("*.parquet"))
    # one read task per input file, so the placement tasks can run side by side (Ray 2.60's
    # new Parquet reader fed everything through one task: a single shard)
    assert shards == len(list(shard_dir(Path(settings.out_dir)).glob("*.parquet")))
    assert shards >= min(2, len(inputs))
    sample = units.set_index("unit_id").loc[sample_ids].reset_index()
    features = feature_columns(units.columns)
    inputs = sample_inputs(sample, features, value_frame(sample))
    local = fit_segments(inputs, settings.segments, lambda f, m: None)
    ours = got.set_index("unit_id")
    np.testing.assert_array_equal(ours.loc[sample_ids, "segment_id"], local.labels)
    np.testing.assert_allclose(ours.loc[sample_ids, "probability"], local.probability)
    builder = CustomerFeatureBuilder().fit(behaviour=inputs.behaviour)
    placer = NeighbourPlacer().fit(
        builder.transform(behaviour=inputs.behaviour), local.labels, local.raw_labels, local.xy
    )
    rest = units[~units["unit_id"].isin(sample_ids)]
    placed = placer.place(builder.transform(behaviour=rest[features].astype(float).reset_index(drop=True)))
    np.testing.assert_array_equal(ours.loc[rest["unit_id"], "segment_id"], placed.labels)
    np.testing.assert_allclose(ours.loc[rest["unit_id"], "probability"], placed.probability)
    assert sum(s["size"] for s in manifest["segments"]) == 120


def test_segment_run_imports_as_a_segments_run(segment_run, scale_root, ws):
    from cx_core.scale.store import import_run
    from cx_core.segments.run import load_segment_info
    from cx_core.store import runs

    res = import_run(ws, scale_root / "segments")
    assert res.kind == "segments" and res.rows == 120
    run = runs.latest(ws, runs.StageName.SEGMENTS)
    assert run.run_id == res.run_id and run.config["strategy"] == "sample+place"
    info = load_segment_info(ws, res.run_id)
    assert info["size"].sum() == 120 and len(info) == len(segment_run[1]["segments"])


def test_a_killed_worker_is_retried_and_every_unit_comes_out_once(ray_local, tmp_path):
    """The placement task's worker process dies mid-run; Ray runs the block again (TASK_RETRIES)."""
    import dataclasses

    import ray.data

    from cx_core.scale.segments import fit_sample, take_sample
    from cx_core.scale.segments_run import place_all
    from cx_core.segments.run import SegmentSettings

    units = pd.DataFrame(
        {
            "customer_id": [f"u{i:04d}" for i in range(400)],
            "revenue": np.arange(400.0) % 37,
            "n_orders": np.arange(400.0) % 5,
            "recency_days": np.arange(400.0) % 90,
            "aov": np.arange(400.0) % 11,
            "tenure_days": np.arange(400.0) % 300,
            "return_rate": (np.arange(400.0) % 7) / 7,
        }
    )
    sample = take_sample(
        units.rename(columns={"customer_id": "unit_id"}).assign(_sample_key=np.arange(400.0)), 50
    )
    sf = fit_sample(sample, list(units.columns[1:]), SegmentSettings(preset="fast"))
    marker = tmp_path / "died"
    sf = dataclasses.replace(sf, placer=DyingPlacer(sf.placer, str(marker)))
    ds = ray.data.from_pandas([units.iloc[k * 100 : (k + 1) * 100] for k in range(4)])
    got = place_all(ds, sf, "customer_id", None, 100).to_pandas()
    assert marker.exists()  # a worker did die
    assert len(got) == 400 and got["unit_id"].is_unique and set(got["unit_id"]) == set(units["customer_id"])
