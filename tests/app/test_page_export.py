"""The Export page under AppTest: run and segment pickers, masking, escaped preview, download."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from cx_core.config import load_config
from cx_core.store.db import Workspace
from tests.conftest import ROOT
from tests.insight.test_export import FORMULA, XSS, seed_workspace


@pytest.fixture
def export_env(tmp_path, monkeypatch):
    """An empty workspace without the demo store (the caller seeds it and closes it)."""
    import streamlit as st

    st.cache_resource.clear()  # the app caches its config and workspace per process
    st.cache_data.clear()
    monkeypatch.setenv("CX_DB_PATH", str(tmp_path / "ws.duckdb"))
    monkeypatch.setenv("CX_DEMO_DIR", str(tmp_path / "demo"))
    monkeypatch.setenv("CX_INGEST_UPLOAD_DIR", str(tmp_path / "uploads"))
    ws = Workspace.open(load_config().db)
    with ws.write() as cur:
        cur.execute("INSERT INTO meta VALUES ('demo_seeded', 'skipped in tests')")
    return ws


def open_export() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/export.py").run()
    assert not at.exception, at.exception
    return at


def rendered_text(at: AppTest) -> list[str]:
    """Every piece of Markdown the page rendered (labels included)."""
    out = [el.value for el in [*at.markdown, *at.caption, *at.info, *at.error, *at.warning, *at.success]]
    return out + [m.label for m in at.metric] + [b.label for b in at.get("download_button")]


def test_export_page_masks_and_offers_download(export_env):
    seed_workspace(export_env)
    export_env.close()
    at = open_export()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows"] == "5" and metrics["Outliers (flagged)"] == "2"
    assert metrics["Churn from"] == "buying pattern"
    preview = at.dataframe[0].value
    assert preview["email"].dropna().str.contains("•••").all()
    assert set(preview["segment_name"]) >= {FORMULA, XSS}  # data cells, shown as text
    buttons = at.get("download_button")
    assert len(buttons) == 1 and buttons[0].label.startswith("Download CSV (5 rows)")
    for text in rendered_text(at):
        assert "<img" not in text, text
    at.toggle(key="export_mask").set_value(True).run()
    assert at.dataframe[0].value["email"].str.contains("@example").sum() == 4


def test_export_page_filters_segments_and_format(export_env):
    seed_workspace(export_env)
    export_env.close()
    at = open_export()
    at.multiselect(key="export_segments").set_value([1, -1]).run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Rows"] == "3"
    assert sorted(at.dataframe[0].value["customer_id"]) == ["C3", "C4", "C5"]
    at.radio(key="export_format").set_value("parquet").run()
    assert at.get("download_button")[0].label.startswith("Download PARQUET (3 rows)")


def test_export_page_without_segments_says_what_to_do(export_env):
    export_env.close()
    at = open_export()
    assert any("No segments yet" in i.value for i in at.info)
    assert not at.get("download_button")


def test_export_page_offers_excel_and_a_spreadsheet_safe_option(export_env):
    seed_workspace(export_env)
    export_env.close()
    at = open_export()
    assert at.radio(key="export_format").options == ["CSV", "Excel (.xlsx)", "Parquet"]
    safe = at.checkbox(key="export_safe")
    assert safe.value is False and not safe.disabled
    assert any("Ids are written exactly" in c.value for c in at.caption)
    safe.check().run()
    assert not at.exception, at.exception
    assert at.get("download_button")[0].label.startswith("Download CSV (5 rows)")
    at.radio(key="export_format").set_value("xlsx").run()
    assert not at.exception, at.exception
    assert at.get("download_button")[0].label.startswith("Download XLSX (5 rows)")
    at.radio(key="export_format").set_value("parquet").run()
    assert at.checkbox(key="export_safe").disabled  # Parquet is never guarded


def test_export_page_files_follow_the_options(export_env, monkeypatch):
    """The page hands the chosen format and option to the exporter (what the download holds)."""
    import cx_core.insight.export as export

    calls = []
    real = export.export_segments

    def spy(*args, **kwargs):
        calls.append((args[2] if len(args) > 2 else kwargs.get("fmt"), kwargs.get("spreadsheet_safe")))
        return real(*args, **kwargs)

    monkeypatch.setattr(export, "export_segments", spy)
    seed_workspace(export_env)
    export_env.close()
    at = open_export()
    at.checkbox(key="export_safe").check().run()
    at.radio(key="export_format").set_value("xlsx").run()
    at.radio(key="export_format").set_value("parquet").run()
    assert not at.exception, at.exception
    assert calls[:1] == [("csv", False)] and ("csv", True) in calls and ("xlsx", True) in calls
    assert ("parquet", False) in calls
