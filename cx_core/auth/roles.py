"""Roles and their permissions, as pure functions.

viewer: browse masked results and download masked exports;
analyst: also load data, run analyses and build reports;
admin: also reveal personal data, delete datasets and manage users.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("viewer", "analyst", "admin")

#: the least role that holds each permission
PERMISSIONS: dict[str, str] = {
    "browse": "viewer",
    "export": "viewer",
    "load": "analyst",
    "analyse": "analyst",
    "report": "analyst",
    "reveal": "admin",
    "delete": "admin",
    "manage_users": "admin",
}


@dataclass(frozen=True)
class Actor:
    """Who does something: a user name and a role (``local`` when the app runs without login)."""

    name: str
    role: str


#: single-user local mode (no users file, loopback only): the person at the machine may do anything
LOCAL_ACTOR = Actor("local", "admin")


def check_role(role: str) -> str:
    """The role when it is one of ``ROLES``; else ``ValueError`` naming the valid ones."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; use one of: {', '.join(ROLES)}.")
    return role


def can(role: str | None, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (unknown roles and permissions hold nothing)."""
    needed = PERMISSIONS.get(permission)
    if role not in ROLES or needed is None:
        return False
    return ROLES.index(role) >= ROLES.index(needed)


def permissions_of(role: str) -> list[str]:
    """Every permission ``role`` holds, in ``PERMISSIONS`` order."""
    return [p for p in PERMISSIONS if can(role, p)]
