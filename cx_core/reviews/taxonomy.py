"""The editable aspect taxonomy: aspect name -> seed phrases, stored in ``aspect_taxonomy``.

It starts from the industry starter list (:mod:`cx_core.reviews.starters`)
whose seed phrases cover the reviews best; users pick another, add or remove
aspects (and the themes view promotes discovered themes); the review model's
weak labels start from these seed phrases.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from cx_core.reviews.starters import FASHION, STARTERS, StarterCoverage, rank_starters
from cx_core.store.db import Workspace

DEFAULT_TAXONOMY: dict[str, list[str]] = FASHION

#: default = a starter list chosen automatically (swapped for a better one while untouched);
#: starter = a list a person picked; user / theme = aspects added by hand or promoted themes
SOURCES = ("default", "starter", "user", "theme")
_NAME = re.compile(r"^[\w][\w \-&/]{0,39}$", re.UNICODE)


class TaxonomyError(ValueError):
    """An aspect name or its seed phrases cannot be used."""


def _clean_seeds(seeds: list[str]) -> list[str]:
    """Trimmed, lower-cased, de-duplicated seed phrases (order kept)."""
    out: list[str] = []
    for s in seeds:
        s = " ".join(str(s).split()).lower()
        if s and s not in out and len(s) <= 80:
            out.append(s)
    return out


def ensure_defaults(ws: Workspace) -> None:
    """Insert the starter list that covers the workspace's reviews best when the table is empty
    (first use; the fashion list when there are no reviews yet)."""
    if ws.scalar("SELECT count(*) FROM aspect_taxonomy"):
        return
    texts = review_texts(ws)
    name = rank_starters(texts)[0].name if texts else "fashion & apparel"
    _write_list(ws, STARTERS[name], "default", keep_own=False)


def _write_list(ws: Workspace, taxonomy: dict[str, list[str]], source: str, keep_own: bool) -> None:
    now = datetime.now()
    with ws.write() as cur:
        cur.execute(
            "DELETE FROM aspect_taxonomy" + (" WHERE source NOT IN ('user', 'theme')" if keep_own else "")
        )
        for aspect, seeds in taxonomy.items():
            cur.execute(
                "INSERT OR IGNORE INTO aspect_taxonomy VALUES (?, ?, ?, ?)",
                [aspect, json.dumps(seeds), source, now],
            )


def review_texts(ws: Workspace, limit: int = 3000) -> list[str]:
    """Up to ``limit`` review texts (title + text, a fixed pseudo-random pick) for coverage."""
    df = ws.query_df(
        "SELECT coalesce(title || '. ', '') || text AS t FROM reviews "
        "WHERE length(trim(text)) > 0 ORDER BY text_hash LIMIT ?",
        [int(limit)],
    )
    return df["t"].tolist()


def starter_coverage(ws: Workspace) -> list[StarterCoverage]:
    """Each starter list's seed coverage of the workspace's reviews, best first."""
    return rank_starters(review_texts(ws))


def current_starter(ws: Workspace) -> str | None:
    """The starter list the taxonomy holds (its aspects all present), else None."""
    have = set(load_taxonomy(ws))
    return next((n for n, t in STARTERS.items() if set(t) <= have), None)


def apply_starter(ws: Workspace, name: str, keep_own: bool = True, source: str = "starter") -> list[str]:
    """Replace the list-provided aspects with starter ``name``; returns its aspects.

    Aspects added by hand (``user``) or promoted from themes (``theme``) are kept
    when ``keep_own``; ``source`` "starter" marks a person's choice (never
    swapped automatically).
    """
    if name not in STARTERS:
        raise TaxonomyError(f"unknown starter list {name!r}; choose one of {', '.join(STARTERS)}")
    _write_list(ws, STARTERS[name], source, keep_own)
    return list(STARTERS[name])


def auto_choose_starter(ws: Workspace) -> dict:
    """While the taxonomy is an automatically chosen list nobody edited, switch it to the best
    starter for the current reviews; returns {starter, coverage, switched_from}."""
    ensure_defaults(ws)
    ranked = starter_coverage(ws)
    if not ranked:
        return {}
    best, current = ranked[0], current_starter(ws)
    untouched = ws.scalar("SELECT count(*) FROM aspect_taxonomy WHERE source <> 'default'") == 0
    out = {"starter": current, "coverage": {c.name: c.coverage for c in ranked}}
    if untouched and current != best.name:
        apply_starter(ws, best.name, keep_own=False, source="default")
        out.update(starter=best.name, switched_from=current)
    return out


def load_taxonomy(ws: Workspace) -> dict[str, list[str]]:
    """The current taxonomy, aspect -> seed phrases, in name order (defaults on first use)."""
    ensure_defaults(ws)
    rows = ws.query_df("SELECT aspect, seeds_json FROM aspect_taxonomy ORDER BY aspect")
    return {r.aspect: json.loads(r.seeds_json) for r in rows.itertuples()}


def taxonomy_frame(ws: Workspace):
    """The taxonomy as a table (aspect, seeds, source, created_at) for display.

    ``seeds`` is the readable comma-separated phrase list (the form the editor takes back).
    """
    ensure_defaults(ws)
    df = ws.query_df(
        "SELECT aspect, seeds_json AS seeds, source, created_at FROM aspect_taxonomy ORDER BY aspect"
    )
    df["seeds"] = [", ".join(json.loads(s)) for s in df["seeds"]]
    return df


def add_aspect(ws: Workspace, name: str, seeds: list[str], source: str = "user") -> str:
    """Add (or replace the seeds of) an aspect; returns the stored name.

    Names are 1-40 characters of letters, digits, spaces, ``-&/``; seeds are
    phrases that mention the aspect (at least one).
    """
    name = " ".join(str(name).split()).lower()
    if not _NAME.match(name):
        raise TaxonomyError(f"an aspect name is 1-40 letters, digits, spaces or -&/ (got {name!r})")
    seeds = _clean_seeds(seeds)
    if not seeds:
        raise TaxonomyError("an aspect needs at least one seed phrase")
    if source not in SOURCES:
        raise TaxonomyError(f"source must be one of {SOURCES}")
    ensure_defaults(ws)
    with ws.write() as cur:
        cur.execute(
            "INSERT OR REPLACE INTO aspect_taxonomy VALUES (?, ?, ?, ?)",
            [name, json.dumps(seeds), source, datetime.now()],
        )
    return name


def remove_aspect(ws: Workspace, name: str) -> bool:
    """Remove an aspect; returns whether it existed."""
    with ws.write() as cur:
        n = cur.execute("SELECT count(*) FROM aspect_taxonomy WHERE aspect = ?", [name]).fetchone()[0]
        cur.execute("DELETE FROM aspect_taxonomy WHERE aspect = ?", [name])
    return bool(n)


def reset_taxonomy(ws: Workspace) -> None:
    """Back to the defaults (user and theme aspects removed)."""
    with ws.write() as cur:
        cur.execute("DELETE FROM aspect_taxonomy")
    ensure_defaults(ws)
