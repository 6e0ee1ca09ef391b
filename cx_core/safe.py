"""Escaping user strings for the two places they are rendered: Markdown and HTML."""

from __future__ import annotations

import html
import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: object) -> str:
    """Escape a user string so Streamlit Markdown shows it literally (no links, HTML or formatting)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def html_escape(text: object) -> str:
    """Escape a user string for HTML text or attribute context."""
    return html.escape(str(text), quote=True)
