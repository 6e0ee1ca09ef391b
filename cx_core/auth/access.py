"""The access gate: is the app open, behind a login, or blocked (served beyond loopback, no login)?"""

from __future__ import annotations

import ipaddress
import time

OPEN = "open"  # loopback, no login configured: single-user local mode
LOGIN = "login"  # login configured: everyone signs in
BLOCKED = "blocked"  # served beyond loopback without login: nothing but setup instructions

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(address: str | None) -> bool:
    """Whether a bind address only reaches this machine (empty means every interface: False)."""
    text = (address or "").strip().strip("[]")
    if not text:
        return False
    if text.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def decide(address: str | None, login_configured: bool, assume_remote: bool = False) -> str:
    """``OPEN``, ``LOGIN`` or ``BLOCKED`` for a server bound to ``address``.

    Login, once configured, is always required; without it the app is open only when it is
    bound to loopback and not declared remote (``assume_remote``: a reverse proxy in front).
    """
    if login_configured:
        return LOGIN
    if is_loopback(address) and not assume_remote:
        return OPEN
    return BLOCKED


def session_expired(last_seen: float, idle_hours: float, now: float | None = None) -> bool:
    """Whether a session last active at ``last_seen`` (epoch seconds) has been idle too long."""
    now = time.time() if now is None else now
    return idle_hours > 0 and now - last_seen > idle_hours * 3600
