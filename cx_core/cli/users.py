"""User commands for ``python -m cx_core``: ``users add|remove|list|set-role|set-password``.

``users add NAME --role viewer|analyst|admin`` asks for the password twice (``--password-stdin``
reads one line from standard input instead, for scripts; ``--sso`` adds a single-sign-on identity
that has no password and only gets a role).  Every change is written to the users file
(``auth.users_file``, or ``--file``) and recorded in the workspace's audit log in the same
transaction, as ``cli:<system user>``.  With at least one user in the file, the app asks everyone
to sign in.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any, Callable

from cx_core.auth.roles import ROLES
from cx_core.auth.users import UsersFileError, add_user, list_users, remove_user, set_password, set_role
from cx_core.store.audit import record_audit
from cx_core.store.db import Workspace

Handler = Callable[[Workspace, argparse.Namespace, Any], int]


def cli_actor() -> str:
    """The audit name of whoever runs the command: ``cli:<system user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def read_password(from_stdin: bool) -> str:
    """The new password: one line of stdin, or typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise UsersFileError("The two passwords differ; nothing changed.")
    return first


def _audited(ws: Workspace, action: str, detail: dict, change: Callable[[], Any]) -> Any:
    """Apply ``change`` to the users file inside a workspace transaction holding its audit row:
    if the file change fails, the audit row is rolled back with it."""
    with ws.write() as cur:
        record_audit(cur, cli_actor(), "admin", action, detail)
        return change()


def cmd_users(ws: Workspace, args: argparse.Namespace, cfg: Any) -> int:
    """Run one ``users`` sub-command; exit code 2 with a message for a refused change."""
    path = args.file or cfg.auth.users_file
    try:
        if args.users_command == "list":
            return _list(path)
        if args.users_command == "add":
            password = None if args.sso else read_password(args.password_stdin)
            _audited(
                ws,
                "user_add",
                {"user": args.name, "role": args.role, "sso": bool(args.sso)},
                lambda: add_user(path, args.name, password, args.role),
            )
            print(f"Added {args.name} ({args.role}).")
        elif args.users_command == "remove":
            _audited(ws, "user_remove", {"user": args.name}, lambda: remove_user(path, args.name))
            print(f"Removed {args.name}.")
        elif args.users_command == "set-role":
            _audited(
                ws,
                "user_set_role",
                {"user": args.name, "role": args.role},
                lambda: set_role(path, args.name, args.role),
            )
            print(f"{args.name} is now {args.role}.")
        elif args.users_command == "set-password":
            password = read_password(args.password_stdin)
            _audited(
                ws, "user_set_password", {"user": args.name}, lambda: set_password(path, args.name, password)
            )
            print(f"Password of {args.name} changed.")
    except UsersFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _list(path: str) -> int:
    users = list_users(path)
    if not users:
        print(f"No users in {path}: the app runs in single-user local mode (loopback only).")
        return 0
    for u in users:
        how = "password" if u.has_password else "single sign-on"
        print(f"{u.name}\t{u.role}\t{how}\tupdated {u.updated}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> dict[str, Handler]:
    """Add ``users`` and its sub-commands to the CLI; returns its handler."""
    up = subparsers.add_parser("users", help="manage who may sign in to the app, and their roles")
    up.add_argument("--file", help="users file (default: auth.users_file, env CX_AUTH_USERS_FILE)")
    sub = up.add_subparsers(dest="users_command", required=True)
    sub.add_parser("list", help="list users and roles (never hashes)")
    add = sub.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--sso", action="store_true", help="a single-sign-on identity (e-mail), no password")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    rm = sub.add_parser("remove", help="remove a user (signed-in sessions end at their next click)")
    rm.add_argument("name")
    sr = sub.add_parser("set-role", help="change a user's role")
    sr.add_argument("name")
    sr.add_argument("role", choices=ROLES)
    sp = sub.add_parser("set-password", help="replace a user's password")
    sp.add_argument("name")
    sp.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    return {"users": cmd_users}
