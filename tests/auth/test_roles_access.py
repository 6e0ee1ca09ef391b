"""Roles, permissions and the access gate are pure functions."""

from __future__ import annotations

import pytest

from cx_core.auth.access import BLOCKED, LOGIN, OPEN, decide, is_loopback, session_expired
from cx_core.auth.roles import ROLES, can, check_role, permissions_of


def test_role_ladder():
    assert permissions_of("viewer") == ["browse", "export"]
    assert set(permissions_of("analyst")) == {"browse", "export", "load", "analyse", "report"}
    assert set(permissions_of("admin")) >= {"reveal", "delete", "manage_users", "load"}
    assert not can("viewer", "load") and not can("analyst", "reveal") and can("admin", "reveal")
    assert not can(None, "browse") and not can("root", "browse") and not can("admin", "fly")
    assert check_role("admin") == "admin" and ROLES == ("viewer", "analyst", "admin")
    with pytest.raises(ValueError):
        check_role("superuser")


@pytest.mark.parametrize(
    "address, loop",
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("", False),
        (None, False),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.2", False),
        ("example.com", False),
    ],
)
def test_is_loopback(address, loop):
    assert is_loopback(address) is loop


def test_decide():
    assert decide("127.0.0.1", False) == OPEN
    assert decide("127.0.0.1", True) == LOGIN
    assert decide("0.0.0.0", False) == BLOCKED and decide(None, False) == BLOCKED
    assert decide("0.0.0.0", True) == LOGIN
    assert decide("127.0.0.1", False, assume_remote=True) == BLOCKED


def test_session_expiry():
    assert not session_expired(1000.0, 8, now=1000.0 + 8 * 3600)
    assert session_expired(1000.0, 8, now=1001.0 + 8 * 3600)
    assert not session_expired(0.0, 0, now=1e12)  # 0 = never
