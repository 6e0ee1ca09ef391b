"""``python -m cx_core users``: add, list, set-role, set-password, remove; every change audited."""

from __future__ import annotations

import io
import json

from cx_core.auth.users import verify
from cx_core.cli.main import main
from cx_core.store.audit import audit_log
from cx_core.store.db import Workspace

PW = "a long enough password"


def _run(monkeypatch, cfg, users_file, *argv, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    monkeypatch.setenv("CX_AUTH_USERS_FILE", str(users_file))
    return main(["--db", cfg.db.path, "users", *argv])


def test_users_cli_round_trip(monkeypatch, cfg, tmp_path, capsys):
    f = tmp_path / "users.json"
    assert _run(monkeypatch, cfg, f, "list") == 0
    assert "single-user local mode" in capsys.readouterr().out
    assert (
        _run(monkeypatch, cfg, f, "add", "ana", "--role", "analyst", "--password-stdin", stdin=PW + "\n") == 0
    )
    assert _run(monkeypatch, cfg, f, "add", "sso@example.com", "--role", "admin", "--sso") == 0
    assert _run(monkeypatch, cfg, f, "set-role", "ana", "viewer") == 0
    assert _run(monkeypatch, cfg, f, "set-password", "ana", "--password-stdin", stdin=PW + "!\n") == 0
    capsys.readouterr()
    assert _run(monkeypatch, cfg, f, "list") == 0
    out = capsys.readouterr().out
    assert "ana\tviewer\tpassword" in out and "sso@example.com\tadmin\tsingle sign-on" in out
    assert "$argon2" not in out
    assert verify(f, "ana", PW + "!") is not None
    assert _run(monkeypatch, cfg, f, "remove", "ana") == 0
    ws = Workspace.open(cfg.db)
    try:
        log = audit_log(ws)
    finally:
        ws.close()
    assert list(log["action"])[::-1] == [
        "user_add",
        "user_add",
        "user_set_role",
        "user_set_password",
        "user_remove",
    ]
    assert log["actor"].str.startswith("cli:").all() and PW not in "".join(log["detail"])
    assert json.loads(log["detail"].iloc[-1]) == {"role": "analyst", "sso": False, "user": "ana"}


def test_refused_change_is_not_audited(monkeypatch, cfg, tmp_path, capsys):
    f = tmp_path / "users.json"
    assert (
        _run(monkeypatch, cfg, f, "add", "bob", "--role", "viewer", "--password-stdin", stdin="short\n") == 2
    )
    assert _run(monkeypatch, cfg, f, "remove", "nobody") == 2
    assert "No user 'nobody'" in capsys.readouterr().err
    ws = Workspace.open(cfg.db)
    try:
        assert audit_log(ws).empty
    finally:
        ws.close()
    assert not f.exists()
