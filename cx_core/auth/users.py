"""The local users file: user names, roles and argon2id password hashes (``argon2-cffi``).

A JSON file (``auth.users_file``) written atomically with mode 0600::

    {"version": 1, "users": {"ana": {"role": "analyst", "hash": "$argon2id$...",
                                     "created": "...", "updated": "..."}}}

An entry without a hash is a single-sign-on identity (its name is the e-mail address the identity
provider reports): it can never sign in with a password, it only gives that person a role.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cx_core.auth.roles import check_role

NAME_RE = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$")
MIN_PASSWORD = 10
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = _HASHER.hash("not a password of anyone")  # equal work for unknown names


class UsersFileError(ValueError):
    """The users file or a requested change is not usable; the message says why."""


@dataclass(frozen=True)
class User:
    """One entry of the users file (``has_password`` False: a single-sign-on identity)."""

    name: str
    role: str
    has_password: bool
    created: str
    updated: str


def _read(path: Path) -> dict:
    if not path.exists():
        return {"version": 1, "users": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsersFileError(f"The users file {path} cannot be read: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
        raise UsersFileError(f"The users file {path} is not a CX Insight users file.")
    return data


def _write(path: Path, data: dict) -> None:
    """Write atomically (temp file + rename), readable only by the owner."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".users.", suffix=".part")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _user(name: str, entry: dict) -> User:
    return User(
        name,
        entry.get("role", ""),
        bool(entry.get("hash")),
        entry.get("created", ""),
        entry.get("updated", ""),
    )


def check_name(name: str) -> str:
    """The user name when usable (letters, digits, ``. _ @ + -``, at most 64); else ``UsersFileError``."""
    if not NAME_RE.fullmatch(name or ""):
        raise UsersFileError("A user name is 1-64 letters, digits or . _ @ + - (an e-mail address works).")
    return name


def check_password(password: str) -> str:
    """The password when long enough; else ``UsersFileError``."""
    if len(password or "") < MIN_PASSWORD:
        raise UsersFileError(f"A password needs at least {MIN_PASSWORD} characters.")
    return password


def list_users(path: str | Path) -> list[User]:
    """Every user in the file, by name (an absent file has none)."""
    data = _read(Path(path))
    return [_user(n, e) for n, e in sorted(data["users"].items())]


def has_users(path: str | Path) -> bool:
    """Whether the users file exists and holds at least one user (login is then required)."""
    p = Path(path)
    return p.is_file() and bool(_read(p)["users"])


def get_user(path: str | Path, name: str) -> User | None:
    """The user of that name, or None."""
    entry = _read(Path(path))["users"].get(name)
    return None if entry is None else _user(name, entry)


def add_user(path: str | Path, name: str, password: str | None, role: str) -> User:
    """Add a user (``password`` None: a single-sign-on identity); ``UsersFileError`` if the name is taken."""
    p = Path(path)
    data = _read(p)
    check_name(name)
    check_role(role)
    if name in data["users"]:
        raise UsersFileError(f"There is already a user {name!r}; use set-role or remove it first.")
    stamp = _now()
    data["users"][name] = {
        "role": role,
        "created": stamp,
        "updated": stamp,
        "hash": None if password is None else _HASHER.hash(check_password(password)),
    }
    _write(p, data)
    return _user(name, data["users"][name])


def remove_user(path: str | Path, name: str) -> None:
    """Remove a user; ``UsersFileError`` when there is none of that name."""
    p = Path(path)
    data = _read(p)
    if data["users"].pop(name, None) is None:
        raise UsersFileError(f"No user {name!r}.")
    _write(p, data)


def set_role(path: str | Path, name: str, role: str) -> User:
    """Change a user's role (takes effect on their next click in the app)."""
    return _update(path, name, role=check_role(role))


def set_password(path: str | Path, name: str, password: str) -> User:
    """Replace a user's password hash."""
    return _update(path, name, hash=_HASHER.hash(check_password(password)))


def _update(path: str | Path, name: str, **changes: str) -> User:
    p = Path(path)
    data = _read(p)
    entry = data["users"].get(name)
    if entry is None:
        raise UsersFileError(f"No user {name!r}.")
    entry.update(changes, updated=_now())
    _write(p, data)
    return _user(name, entry)


def verify(path: str | Path, name: str, password: str) -> User | None:
    """The user when ``password`` is theirs, else None (unknown names cost the same hashing work).

    A hash made with older argon2 parameters is upgraded in place after a successful check.
    """
    p = Path(path)
    entry = _read(p)["users"].get(name or "")
    stored = (entry or {}).get("hash") or _DUMMY_HASH
    try:
        _HASHER.verify(stored, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if entry is None or not entry.get("hash"):
        return None
    if _HASHER.check_needs_rehash(stored):
        set_password(p, name, password)
    return _user(name, entry)


def role_for_identity(path: str | Path, identity: str | None, default_role: str) -> str | None:
    """The role of a single-sign-on identity: its users-file entry's role, else ``default_role``
    (empty default: identities without an entry are not let in, None)."""
    user = get_user(path, identity) if identity else None
    if user is not None:
        return user.role
    return default_role or None
