"""Streamlit glue shared by the pages: cached config and workspace, escaping, errors.

Only UI concerns live here; every computation is a call into ``cx_core``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from cx_core.ingest.bootstrap import ensure_demo
from cx_core.config import Config, load_config
from cx_core.store.db import Workspace, WorkspaceError
from cx_core.ingest.load import InputFileError, MappingError
from cx_core.safe import md_escape

USER_ERRORS = (InputFileError, MappingError, WorkspaceError, ValueError)


@st.cache_resource(show_spinner=False)
def get_config() -> Config:
    """The app's config, read once from the environment (CX_* variables)."""
    return load_config()


@st.cache_resource(show_spinner=False)
def _open_workspace(db_path: str) -> Workspace:
    return Workspace.open(get_config().db)


def get_workspace() -> Workspace:
    """The shared workspace connection; on a brand-new workspace the demo store is loaded first."""
    cfg = get_config()
    ws = _open_workspace(cfg.db.path)
    if not st.session_state.get("_cx_demo_checked"):
        bar = None

        def progress(frac: float, msg: str) -> None:
            nonlocal bar
            bar = bar or st.progress(0.0, text="Preparing the demo data")
            bar.progress(min(max(frac, 0.0), 1.0), text=msg)

        ensure_demo(ws, cfg, progress)
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
    """The 'show personal data' switch; returns whether to mask."""
    show = st.toggle("Show personal data", value=not get_config().ui.mask_pii, key=key,
                     help="Emails, phone numbers and names are masked by default.")
    return not show
