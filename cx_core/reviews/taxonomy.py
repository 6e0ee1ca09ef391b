"""The editable aspect taxonomy: aspect name -> seed phrases, stored in ``aspect_taxonomy``.

The defaults are the needs e-commerce reviews talk about most. Users (and the
themes view, when a discovered theme is promoted) add or remove aspects; the
review model's weak labels start from these seed phrases.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from cx_core.store.db import Workspace

DEFAULT_TAXONOMY: dict[str, list[str]] = {
    "price": ["price", "expensive", "cheap", "overpriced", "value for money", "worth the money",
              "on sale", "cost", "pricey", "affordable"],
    "quality": ["quality", "well made", "cheaply made", "fell apart", "durable", "flimsy", "sturdy",
                "material", "fabric", "broke", "stitching", "ripped"],
    "delivery": ["delivery", "shipping", "arrived", "late", "took weeks", "package", "courier",
                 "never arrived", "tracking", "delayed", "shipped"],
    "fit": ["fit", "size", "sizing", "too small", "too big", "too tight", "too loose", "runs small",
            "runs large", "true to size", "length", "petite"],
    "service": ["customer service", "support", "staff", "helpful", "rude", "refund", "exchange",
                "response", "contacted", "return policy"],
    "design": ["color", "colour", "style", "pattern", "design", "look", "cute", "beautiful",
               "pretty", "flattering"],
    "comfort": ["comfortable", "comfy", "soft", "itchy", "scratchy", "cozy", "breathable", "warm"],
    "packaging": ["packaging", "box", "wrapped", "damaged in transit", "packed", "parcel"],
}

SOURCES = ("default", "user", "theme")
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
    """Insert the default taxonomy when the table is empty (first use)."""
    if ws.scalar("SELECT count(*) FROM aspect_taxonomy"):
        return
    now = datetime.now()
    with ws.write() as cur:
        for aspect, seeds in DEFAULT_TAXONOMY.items():
            cur.execute("INSERT OR IGNORE INTO aspect_taxonomy VALUES (?, ?, 'default', ?)",
                        [aspect, json.dumps(seeds), now])


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
    df = ws.query_df("SELECT aspect, seeds_json AS seeds, source, created_at FROM aspect_taxonomy "
                     "ORDER BY aspect")
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
        cur.execute("INSERT OR REPLACE INTO aspect_taxonomy VALUES (?, ?, ?, ?)",
                    [name, json.dumps(seeds), source, datetime.now()])
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
