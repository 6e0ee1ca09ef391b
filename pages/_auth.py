"""The access gate, the sign-in form and the sidebar's sign-out, run by app.py before navigation.

Three outcomes (cx_core/auth/access.py): **open** (loopback, no login configured: single-user
local mode, everything as before), **login** (a users file with a user, or OIDC in
``.streamlit/secrets.toml``: everyone signs in, sessions end after ``auth.session_idle_hours``
idle), **blocked** (served beyond loopback without login: only a page saying how to set it up;
no data, no workspace, nothing else is served).
"""

from __future__ import annotations

import time
from typing import Callable

import streamlit as st

from cx_core.auth.access import BLOCKED, OPEN, decide, session_expired
from cx_core.auth.roles import Actor
from cx_core.auth.users import UsersFileError, get_user, has_users, role_for_identity, verify
from cx_core.ingest.readers import drop_stale_copies
from cx_core.ingest.uploads import drop_session_uploads, drop_stale_uploads
from cx_core.store.audit import record_event
from pages._ui import audit_workspace, md
from pages._ui import cached_config as get_config

AUTH_KEY = "_cx_auth"
ACTOR_KEY = "_cx_actor"
UPLOAD_TOKEN_KEY = "_cx_upload_token"


def oidc_configured() -> bool:
    """Whether ``.streamlit/secrets.toml`` has an ``[auth]`` section for ``st.login``."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def _decision(address: str | None) -> tuple[str, bool, bool]:
    """(gate decision, login by OIDC configured, users file has users)."""
    cfg = get_config()
    oidc = oidc_configured()
    try:
        users = has_users(cfg.auth.users_file)
    except UsersFileError:
        users = True  # an unreadable users file never opens the app
    return decide(address, users or oidc, cfg.auth.assume_remote), oidc, users


def page_allowed() -> bool:
    """Whether this session may see a data page right now (checked again by every page)."""
    decision, oidc, _ = _decision(st.get_option("server.address"))
    if decision == OPEN:
        return True
    if decision == BLOCKED:
        return False
    actor = _signed_in(oidc)
    if actor is None:
        return False
    st.session_state[ACTOR_KEY] = actor
    return True


def gate_pages(pages: list, address: str | None) -> list:
    """The pages this session may see on a server bound to ``address``: all of them, or only the
    sign-in / setup page."""
    _sweep_once()
    decision, oidc, users = _decision(address)
    if decision == OPEN:
        st.session_state.pop(ACTOR_KEY, None)
        return pages
    if decision == BLOCKED:
        return [st.Page(_blocked_page, title="Set up login", icon=":material/lock:", default=True)]
    actor = _signed_in(oidc)
    if actor is None:
        st.session_state.pop(ACTOR_KEY, None)
        return [st.Page(_login_page(oidc, users), title="Sign in", icon=":material/login:", default=True)]
    st.session_state[ACTOR_KEY] = actor
    _sidebar(actor, oidc)
    return pages


def _sweep_once() -> None:
    """Once per browser session: remove uploads and UTF-8 copies that other sessions left behind."""
    if st.session_state.get("_cx_swept"):
        return
    cfg = get_config()
    hours = cfg.auth.session_idle_hours or 24
    drop_stale_uploads(cfg.ingest.upload_dir, hours * 3600)
    drop_stale_copies()
    st.session_state["_cx_swept"] = True


def _signed_in(oidc: bool) -> Actor | None:
    """The signed-in actor, re-checked against the users file on every rerun (a removed user or a
    changed role takes effect at once); None when signed out or idle too long."""
    cfg = get_config()
    auth = st.session_state.get(AUTH_KEY)
    if auth is None and oidc and st.user.get("is_logged_in", False):
        auth = _oidc_session(cfg)
    if auth is None:
        return None
    if session_expired(auth["last_seen"], cfg.auth.session_idle_hours):
        _sign_out("Your session ended after a long idle time. Please sign in again.")
        return None
    if auth["method"] == "password":
        user = get_user(cfg.auth.users_file, auth["name"])
        role = user.role if user is not None and user.has_password else None
    else:
        role = role_for_identity(cfg.auth.users_file, auth["name"], cfg.auth.oidc_default_role)
    if role is None:
        _sign_out("Your account no longer has access.")
        return None
    auth["last_seen"] = time.time()
    return Actor(auth["name"], role)


def _oidc_session(cfg) -> dict | None:
    """Start a session for an identity the provider vouched for (audited as a login)."""
    name = str(st.user.get("email") or st.user.get("sub") or "")
    role = role_for_identity(cfg.auth.users_file, name, cfg.auth.oidc_default_role)
    if not name or role is None:
        return None
    auth = {"name": name, "method": "oidc", "last_seen": time.time()}
    record_event(audit_workspace(), name, role, "login", {"method": "oidc"})
    st.session_state[AUTH_KEY] = auth
    return auth


def _sign_out(message: str | None = None) -> None:
    """End the session: forget the identity, delete this session's uploads."""
    auth = st.session_state.pop(AUTH_KEY, None)
    actor = st.session_state.pop(ACTOR_KEY, None)
    token = st.session_state.pop(UPLOAD_TOKEN_KEY, None)
    if token:
        drop_session_uploads(get_config().ingest.upload_dir, token)
    if actor is not None and message is None:
        record_event(audit_workspace(), actor.name, actor.role, "logout", {})
    if message:
        st.session_state["_cx_auth_message"] = message
    if auth and auth.get("method") == "oidc":
        st.logout()


def _sidebar(actor: Actor, oidc: bool) -> None:
    with st.sidebar:
        st.caption(f"Signed in as **{md(actor.name)}** ({actor.role})")
        st.button("Log out", key="cx_logout", on_click=_sign_out, icon=":material/logout:")


def _login_page(oidc: bool, users: bool) -> Callable[[], None]:
    def page() -> None:
        st.title("Sign in to CX Insight")
        note = st.session_state.pop("_cx_auth_message", None)
        if note:
            st.info(md(note))
        if users:
            _password_form()
        if oidc:
            st.button("Sign in with single sign-on", on_click=st.login, key="cx_sso")

    return page


def _password_form() -> None:
    cfg = get_config()
    with st.form("cx_login"):
        name = st.text_input("User name", key="cx_login_name")
        password = st.text_input("Password", type="password", key="cx_login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    user = verify(cfg.auth.users_file, name.strip(), password)
    ws = audit_workspace()
    if user is None:
        record_event(ws, name.strip()[:64] or "?", "-", "login_failed", {"method": "password"})
        st.error("Wrong user name or password.")
        return
    record_event(ws, user.name, user.role, "login", {"method": "password"})
    st.session_state[AUTH_KEY] = {"name": user.name, "method": "password", "last_seen": time.time()}
    st.rerun()


def _blocked_page() -> None:
    st.title("Login is not set up")
    st.warning(
        "This CX Insight server is reachable beyond the machine it runs on, and no login "
        "is configured, so it shows no data."
    )
    st.markdown(
        "An administrator on the server can either\n\n"
        "- add a user: `python -m cx_core users add NAME --role admin` (then reload this page), or\n"
        "- configure single sign-on (an `[auth]` section in `.streamlit/secrets.toml`), or\n"
        '- serve the app on loopback only (`server.address = "127.0.0.1"`, the default).\n\n'
        "See README, section *Deploying for a team*."
    )
