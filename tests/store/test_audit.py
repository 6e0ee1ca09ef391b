"""The audit log: rows written in the same transaction as the load, delete or export they record."""

from __future__ import annotations

import json

import pytest

from cx_core.auth.guarded import NotAllowed, ReadOnlyWorkspace
from cx_core.auth.roles import Actor
from cx_core.ingest import load as load_module
from cx_core.ingest.load import delete_dataset, load_file
from cx_core.ingest.readers import InputFileError
from cx_core.insight.export_files import audit_csv
from cx_core.store.audit import audit_log, record_event

REVIEWS = "review_id,customer_id,text,rating\nr1,c1,Great fit,5\nr2,c2,=HYPERLINK(1),1\n"
ANA = Actor("ana", "analyst")


def _csv(tmp_path, text=REVIEWS, name="r.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_load_and_delete_are_audited_with_the_actor(ws, tmp_path):
    assert load_file(ws, _csv(tmp_path), "reviews", dry_run=True, actor=ANA).rows_loaded == 2
    assert audit_log(ws).empty  # a dry run changes nothing, audit included
    rep = load_file(ws, _csv(tmp_path), "reviews", actor=ANA)
    row = audit_log(ws).iloc[0]
    assert (row.actor, row.role, row.action) == ("ana", "analyst", "load")
    assert json.loads(row.detail) == {
        "dataset_id": rep.dataset_id,
        "kind": "reviews",
        "rows": 2,
        "source_name": "r.csv",
        "replaced": None,
    }
    assert delete_dataset(ws, rep.dataset_id, actor=Actor("root", "admin"))
    assert list(audit_log(ws)["action"]) == ["delete", "load"]
    assert delete_dataset(ws, rep.dataset_id) is False and len(audit_log(ws)) == 2


def test_no_login_means_local(ws, tmp_path):
    load_file(ws, _csv(tmp_path), "reviews")
    assert audit_log(ws).iloc[0].actor == "local"


def test_failed_audit_rolls_the_load_back(ws, tmp_path, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("audit table gone")

    monkeypatch.setattr(load_module, "record_audit", broken)
    with pytest.raises(RuntimeError):
        load_file(ws, _csv(tmp_path), "reviews", actor=ANA)
    assert ws.scalar("SELECT count(*) FROM reviews") == 0
    assert ws.scalar("SELECT count(*) FROM datasets") == 0


def test_failed_load_leaves_no_audit_row(ws, tmp_path):
    with pytest.raises(InputFileError):
        load_file(ws, _csv(tmp_path, "", "empty.csv"), "reviews", actor=ANA)
    assert audit_log(ws).empty


def test_events_and_csv_export(ws):
    record_event(ws, "<img src=x onerror=alert(1)>", "admin", "reveal", {"where": "=cmd|' /C calc'!A0"})
    record_event(ws, "ana", "analyst", "report", {"masked": True})
    assert list(audit_log(ws, action="reveal")["action"]) == ["reveal"]
    text = audit_csv(ws).decode()
    assert text.splitlines()[0] == "happened_at,actor,role,action,detail"
    assert "report" in text.splitlines()[1] and "'=" not in text.splitlines()[1]


def test_read_only_view_refuses_writes(ws, tmp_path):
    view = ReadOnlyWorkspace(ws, "viewer")
    with pytest.raises(NotAllowed, match=r"viewer\) cannot change data"):
        load_file(view, _csv(tmp_path), "reviews")
    assert view.scalar("SELECT count(*) FROM reviews") == 0
