"""The users file: argon2id hashes, 0600 writes, roles, SSO identities, equal refusals."""

from __future__ import annotations

import json
import os

import pytest

from cx_core.auth import users
from cx_core.auth.users import UsersFileError

PW = "correct horse battery"


@pytest.fixture
def path(tmp_path):
    return tmp_path / "auth" / "users.json"


def test_add_verify_and_file_hygiene(path):
    users.add_user(path, "ana@example.com", PW, "analyst")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    raw = json.loads(path.read_text())
    stored = raw["users"]["ana@example.com"]["hash"]
    assert stored.startswith("$argon2id$") and PW not in path.read_text()
    user = users.verify(path, "ana@example.com", PW)
    assert user is not None and user.role == "analyst" and user.has_password
    assert users.verify(path, "ana@example.com", PW + "x") is None
    assert users.verify(path, "nobody", PW) is None  # same None for unknown names
    assert users.has_users(path) and not users.has_users(path.with_name("absent.json"))
    assert not [f for f in os.listdir(path.parent) if f.endswith(".part")]


def test_roles_changes_and_refusals(path):
    users.add_user(path, "vic", PW, "viewer")
    with pytest.raises(UsersFileError, match="already"):
        users.add_user(path, "vic", PW, "admin")
    with pytest.raises(ValueError, match="Unknown role"):
        users.add_user(path, "bob", PW, "root")
    with pytest.raises(UsersFileError, match="at least"):
        users.add_user(path, "bob", "short", "viewer")
    with pytest.raises(UsersFileError, match="user name"):
        users.add_user(path, "<img src=x onerror=alert(1)>", PW, "viewer")
    assert users.set_role(path, "vic", "admin").role == "admin"
    users.set_password(path, "vic", PW + "2")
    assert users.verify(path, "vic", PW) is None and users.verify(path, "vic", PW + "2")
    users.remove_user(path, "vic")
    assert users.list_users(path) == [] and not users.has_users(path)
    with pytest.raises(UsersFileError, match="No user"):
        users.remove_user(path, "vic")


def test_sso_identity_has_no_password(path):
    users.add_user(path, "boss@example.com", None, "admin")
    assert users.verify(path, "boss@example.com", "") is None
    assert users.role_for_identity(path, "boss@example.com", "viewer") == "admin"
    assert users.role_for_identity(path, "other@example.com", "viewer") == "viewer"
    assert users.role_for_identity(path, "other@example.com", "") is None
    assert [u.has_password for u in users.list_users(path)] == [False]


def test_broken_file_is_an_error_not_an_open_door(path):
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(UsersFileError):
        users.has_users(path)
    with pytest.raises(UsersFileError):
        users.verify(path, "x", PW)
