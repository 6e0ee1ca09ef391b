"""Streamlit glue shared by the pages: cached config and workspace, escaping, errors.

Only UI concerns live here; every computation is a call into ``cx_core``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import pandas as pd
import streamlit as st

from cx_core.auth.guarded import ReadOnlyWorkspace
from cx_core.auth.roles import LOCAL_ACTOR, Actor, can
from cx_core.config import Config, load_config
from cx_core.ingest.bootstrap import ensure_demo
from cx_core.ingest.load import InputFileError, MappingError
from cx_core.plots.format import has_details, readable_frame
from cx_core.safe import md_escape
from cx_core.store.audit import record_event
from cx_core.store.db import Workspace, WorkspaceError

USER_ERRORS = (InputFileError, MappingError, WorkspaceError, ValueError)


def enter_through_app() -> None:
    """Leave Streamlit's old "pages directory" mode and rerun through app.py's navigation.

    Until app.py has called ``st.navigation`` once, Streamlit treats ``pages/`` as a pages directory:
    when a new server's first request is a page URL (a bookmark to /data), that page runs without
    app.py and the sidebar lists every file in ``pages/`` (helpers such as ``_run.py`` included),
    for every session, until somebody opens the root URL. Switching the flag off and rerunning lets
    app.py resolve the same URL through its own page list (the login gate and the jobs sidebar with
    it). Called when this module is first imported, i.e. in the process's first script run.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


enter_through_app()


@st.cache_resource(show_spinner=False)
def cached_config() -> Config:
    """The app's config, read once from the environment (CX_* variables)."""
    return load_config()


def get_config() -> Config:
    """The app's config, for a page this session may see.

    Every page asks for it first, so the access gate is checked again here, in the page's own
    run: a page script started without app.py (Streamlit runs ``pages/*.py`` directly for a
    new server's first request) still serves nothing to a session that is not let in.
    """
    from pages._auth import page_allowed

    if not page_allowed():
        st.stop()
    return cached_config()


@st.cache_resource(show_spinner=False)
def _open_workspace(db_path: str) -> Workspace:
    return Workspace.open(cached_config().db)


def current_actor() -> Actor:
    """Who is using this session: the signed-in user, or ``local`` (admin) in single-user local mode."""
    return st.session_state.get("_cx_actor", LOCAL_ACTOR)


def allowed(permission: str) -> bool:
    """Whether the current user's role holds ``permission`` (see cx_core/auth/roles.py)."""
    return can(current_actor().role, permission)


def audit(action: str, **detail: object) -> None:
    """Record an action that writes nothing else (reveal, report, login) in the audit log."""
    actor = current_actor()
    record_event(audit_workspace(), actor.name, actor.role, action, detail)


def audit_workspace() -> Workspace:
    """The real workspace, for audit rows and audited actions of any role (no demo bootstrap)."""
    return _open_workspace(cached_config().db.path)


def get_workspace() -> Workspace:
    """The shared workspace connection; on a brand-new workspace the demo store is loaded first.

    A role that may not change data gets a read-only view: every write is refused with a message.
    """
    ws = _bootstrapped_workspace()
    if not allowed("analyse"):
        return ReadOnlyWorkspace(ws, current_actor().role)  # type: ignore[return-value]
    return ws


def _bootstrapped_workspace() -> Workspace:
    cfg = get_config()
    ws = _open_workspace(cfg.db.path)
    if not st.session_state.get("_cx_demo_checked"):
        bar = None

        def progress(frac: float, msg: str) -> None:
            nonlocal bar
            bar = bar or st.progress(0.0, text="Preparing the demo data")
            bar.progress(min(max(frac, 0.0), 1.0), text=msg)

        try:
            ensure_demo(ws, cfg, progress)
        finally:  # never leave a frozen bar above an error
            if bar is not None:
                bar.empty()
        st.session_state["_cx_demo_checked"] = True
    return ws


def md(text: object) -> str:
    """User text made safe for st.markdown."""
    return md_escape(text)


@contextmanager
def user_errors() -> Iterator[None]:
    """Show expected problems (bad file, bad mapping, busy workspace) as a message, not a traceback."""
    try:
        yield
    except MappingError as exc:
        st.error("The column mapping cannot be used:\n\n" + "\n".join(f"- {md(p)}" for p in exc.problems))
    except USER_ERRORS as exc:
        st.error(md(str(exc)))


def mask_pii_toggle(key: str) -> bool:
    """The 'show personal data' switch (admins only); returns whether to mask.

    Turning it on is recorded in the audit log first: if that fails, nothing is revealed.
    """
    if not allowed("reveal"):
        st.caption("Personal data is masked (only administrators can reveal it).")
        return True
    show = st.toggle(
        "Show personal data",
        value=not get_config().ui.mask_pii,
        key=key,
        help="Emails, phone numbers and names are masked by default. Revealing them "
        "is recorded in the audit log.",
    )
    flag = f"_cx_revealed_{key}"
    if not show:
        st.session_state.pop(flag, None)
        return True
    if not st.session_state.get(flag):
        try:
            audit("reveal", where=key)
        except USER_ERRORS as exc:
            st.error("Personal data stays masked: the audit log could not be written. " + md(str(exc)))
            return True
        st.session_state[flag] = True
    return False


def shared_workspace() -> Workspace:
    """The process-wide read-write workspace (for the server's job runner, not for a session's pages)."""
    return _open_workspace(cached_config().db.path)


CURRENCIES = ("", "£", "$", "€", "¥", "CHF ", "kr ")


def currency() -> str:
    """The currency symbol shown on money: this session's choice on the Data page, else the
    ``ui.currency`` setting ("" = none)."""
    return st.session_state.get("_cx_currency", get_config().ui.currency)


def currency_picker() -> None:
    """Choose the currency symbol shown on money for this session (exports keep plain numbers)."""
    options = list(dict.fromkeys([currency(), *CURRENCIES]))
    st.session_state["_cx_currency"] = st.selectbox(
        "Currency shown on revenue and lifetime value",
        options,
        index=0,
        format_func=lambda c: c.strip() or "none",
        key="currency_pick",
        help="For this session; set ui.currency (CX_UI_CURRENCY) to change the default.",
    )


def how_computed(*paragraphs: str) -> None:
    """The model terms and diagnostics of a page, under one collapsed expander (plain text above)."""
    with st.expander("How this was computed"):
        for p in paragraphs:
            st.caption(p)


def show_table(df, key: str, text_first: bool = True, **kwargs) -> None:
    """``df`` for reading (human labels, rounded numbers, currency, text first, no None cells), with
    a "Show ids and details" switch when it holds ids or internals; cells are plain text, never Markdown."""
    show = False
    if has_details(df):
        show = st.toggle(
            "Show ids and details", key=f"{key}_ids", help="Dataset, review and run ids, methods, raw JSON."
        )
    frame = readable_frame(df, currency(), show_ids=show, text_first=text_first)
    counts = {
        c: st.column_config.NumberColumn(format="localized")  # 22,641, not 22641
        for c in frame.columns
        if pd.api.types.is_integer_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    }
    config = {**counts, **kwargs.pop("column_config", {})}
    st.dataframe(frame, hide_index=True, key=key, column_config=config or None, **kwargs)
