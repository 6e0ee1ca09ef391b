"""Masking on: a segment or keyword stored with an email and a phone number in it (runs made
before scrubbing existed) never shows a piece of them: not in alerts, the report, the export,
nor on the Segments page."""

from __future__ import annotations

import json

import pytest

from cx_core.ingest.pii_scrub import mask_generated_frame, mask_name
from cx_core.insight.alerts import what_changed
from cx_core.insight.export import export_frame, export_segments
from cx_core.insight.report import build_report
from cx_core.insight.report_sections import changes_section
from tests.app.test_page_segments import _env, _hostile_workspace, _rendered_text, _segments_page
from tests.insight.test_export import seed_workspace
from tests.insight.test_report import _full
from tests.insight.test_segment_changes import _ids, _run

PII = "ann@example.com 07700 900123"
PIECES = ("ann@", "example.com", "07700", "900123")


def _clean(text: str) -> None:
    low = text.lower()
    for piece in PIECES:
        assert piece not in low, (piece, text[:300])


def _rename(ws, name: str = f"Service — {PII} · budget items") -> None:
    with ws.write() as cur:
        cur.execute("UPDATE segment_info SET name = ? WHERE segment_id >= 0", [name])


def test_mask_name_leaves_no_piece_and_keeps_plain_names():
    _clean(str(mask_name(f"Service — {PII}")))
    assert mask_name("Loyal big spenders · garden") == "Loyal big spenders · garden"
    frame = mask_generated_frame(
        __import__("pandas").DataFrame({"name": [PII], "keywords": [[PII, "fit"]], "size": [3]})
    )
    _clean(json.dumps(frame.to_dict("records"), ensure_ascii=False))
    assert frame.loc[0, "keywords"][1] == "fit" and frame.loc[0, "size"] == 3


def test_alert_messages_mask_stored_names(ws):
    _run(ws, "seg_old", {0: _ids("g", 60), 1: _ids("k", 50)}, {0: "Old " + PII, 1: "Kept"}, days_ago=30)
    _run(ws, "seg_new", {0: _ids("n", 70), 1: _ids("k", 50)}, {0: "New " + PII, 1: "Kept"}, days_ago=1)
    plain = what_changed(ws)
    assert any("900123" in a.message for a in plain)  # the stored names do hold the pieces
    masked = what_changed(ws, mask_pii=True)
    assert len(masked) == len(plain) and any("New segment" in a.message for a in masked)
    for a in masked:
        _clean(a.message + " " + a.subject)
    _clean(changes_section(ws, True, lambda fig: ""))


def test_report_masks_stored_segment_names(ws):
    _full(ws)
    _rename(ws)
    _clean(build_report(ws))
    assert "900123" in build_report(ws, mask_pii=False)


def test_masked_export_masks_stored_segment_names(ws):
    seed_workspace(ws)
    _rename(ws)
    frame = export_frame(ws)
    assert frame["segment_name"].str.contains("budget items").sum() >= 4  # outliers keep their name
    _clean(frame.to_csv())
    _clean(export_segments(ws, fmt="csv").decode("utf-8"))
    assert "900123" in export_frame(ws, mask_pii=False).to_csv()


@pytest.mark.parametrize("reveal", [False, True])
def test_segments_page_masks_stored_names_and_keywords(tmp_path, monkeypatch, reveal):
    _hostile_workspace(tmp_path)
    from cx_core.config import load_config
    from cx_core.store.db import Workspace

    ws = Workspace.open(load_config(env={}, db__path=str(tmp_path / "ws.duckdb")).db)
    _rename(ws)
    with ws.write() as cur:
        cur.execute("UPDATE segment_info SET keywords_json = ?", [json.dumps([[PII, 1.0], ["fit", 0.5]])])
    ws.close()
    _env(monkeypatch, tmp_path)
    at = _segments_page()
    if reveal:
        at.toggle(key="segments_mask").set_value(True).run()
    texts = "\n".join(_rendered_text(at))
    if reveal:
        assert "900123" in texts  # shown only when an admin reveals personal data
    else:
        assert "budget items" in texts
        _clean(texts)
