"""The runs table helpers: a run is recorded in the writer's transaction and read back newest first."""

from datetime import datetime, timedelta

import pytest

from cx_core.store.runs import latest, latest_id, record_run


def test_latest_run_is_the_newest_finished(ws):
    assert latest(ws, "profiles") is None and latest_id(ws, "profiles") is None
    t0 = datetime.now() - timedelta(hours=1)
    with ws.write() as cur:
        record_run(cur, "p1", "profiles", "k1", {"a": 1}, t0, {"n": 3, "when": t0})
    with ws.write() as cur:
        record_run(cur, "p2", "profiles", "k2", {"a": 2}, t0, {"n": 4})
        record_run(cur, "s1", "segments", "k2", {}, t0, {})
    run = latest(ws, "profiles")
    assert (run.run_id, run.dataset_key, run.config, run.metrics) == ("p2", "k2", {"a": 2}, {"n": 4})
    assert latest_id(ws, "segments") == "s1"


def test_run_row_rolls_back_with_the_results(ws):
    with pytest.raises(RuntimeError):
        with ws.write() as cur:
            record_run(cur, "p1", "profiles", "k", {}, datetime.now(), {})
            raise RuntimeError("the results failed to write")
    assert latest_id(ws, "profiles") is None
