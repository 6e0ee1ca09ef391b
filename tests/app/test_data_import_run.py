"""The Data page's "Import a cluster run" box under AppTest: a run folder inside ingest.allowed_dirs
shows its manifest summary (escaped) and imports; folders outside (or shards linked outside) get the
one refusal typed paths get."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from cx_core.customers.profiles import ProfileSettings
from cx_core.scale.manifest import PROFILES_FORMAT, count_rows, shard_dir, write_manifest
from tests.app_fixtures import XSS, app_env, new_app  # noqa: F401  (app_env is a fixture)


def write_profiles_run(out: Path, run_id: str = "sp_test_1") -> Path:
    """A tiny finished profiles run folder (3 customers), as ``scale profile`` writes it."""
    shard_dir(out).mkdir(parents=True)
    pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "frequency": [0.0, 2.0, 5.0],
            "revenue": [10.0, 55.5, 300.0],
            "p_alive": [0.2, 0.7, 0.9],
            "clv": [1.0, 20.0, 150.0],
            "rfm_segment": ["Lost", "Promising", "Champions"],
        }
    ).to_parquet(shard_dir(out) / "part-0.parquet", index=False)
    write_manifest(
        out,
        {
            "format": PROFILES_FORMAT,
            "run_id": run_id,
            "counts": count_rows(out),
            "settings": asdict(ProfileSettings()),
            "metrics": {"customers": 3, "window_start": "2025-01-01", "window_end": "2025-12-31"},
            "seconds": 1.5,
            "ray_version": "2.60.0",
            "finished": "2026-12-01T10:00:00",
        },
    )
    return out


def _open_box():
    at = new_app()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    assert any(e.label == "Import a cluster run" for e in at.expander)
    return at


def _texts(at) -> list[str]:
    return [el.value for el in [*at.markdown, *at.caption, *at.success, *at.warning, *at.error, *at.info]]


def test_an_allowed_run_folder_shows_its_summary_and_imports(app_env):
    run = write_profiles_run(app_env / "runs" / "r1", run_id=f"sp_{XSS}")
    at = _open_box()
    at.text_input(key="scale_run_dir").set_value("runs/r1").run()  # relative: in the first allowed folder
    assert not at.exception and not at.error, [e.value for e in at.error]
    summary = next(m.value for m in at.markdown if "Customer profiles" in m.value)
    assert "3 rows in 1 shards" in summary and "3 customers" in summary
    assert not [t for t in _texts(at) if re.search(r"(?<!\\)<img", t)]  # the run id is escaped
    at.button(key="scale_import").click().run()
    assert not at.exception, at.exception
    assert any("Imported 3 customer profiles" in s.value for s in at.success)
    at.text_input(key="scale_run_dir").set_value(str(run)).run()
    at.button(key="scale_import").click().run()
    assert any("already imported" in e.value for e in at.error)  # twice: refused, nothing added


def test_folders_outside_the_allowed_ones_are_refused_with_one_message(app_env):
    outside = write_profiles_run(app_env.parent / f"{app_env.name}-outside-run")
    linked = write_profiles_run(app_env / "linked")
    (shard_dir(linked) / "part-0.parquet").unlink()
    (shard_dir(linked) / "part-0.parquet").symlink_to(shard_dir(outside) / "part-0.parquet")
    at = _open_box()
    messages = set()
    for attempt in (str(outside), "/etc", "../" + outside.name, str(linked), str(app_env / "missing")):
        at.text_input(key="scale_run_dir").set_value(attempt).run()
        assert not at.exception, at.exception
        errors = [e.value for e in at.error]
        assert len(errors) == 1, (attempt, errors)
        messages.add(errors[0])
        assert not any(b.key == "scale_import" for b in at.button)
    assert len(messages) == 1 and "ingest.allowed_dirs" in messages.pop().replace("\\", "")


def test_no_box_without_allowed_folders(app_env, monkeypatch):
    monkeypatch.setenv("CX_INGEST_ALLOWED_DIRS", "")
    at = new_app()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    assert not any(e.label == "Import a cluster run" for e in at.expander)
