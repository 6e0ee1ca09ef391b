"""SQL helpers that need no connection: quoting identifiers (the only place they are escaped)."""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (table or column name) for DuckDB.

    The only place identifiers are escaped: double quotes are doubled, and NUL
    characters, which DuckDB cannot hold in a name, are refused.
    """
    if not isinstance(name, str) or name == "":
        raise ValueError("an identifier must be a non-empty string")
    if "\x00" in name:
        raise ValueError("an identifier cannot contain a NUL character")
    return '"' + name.replace('"', '""') + '"'


def qualified(*parts: str) -> str:
    """Quote and join a dotted name such as schema.table."""
    return ".".join(quote_ident(p) for p in parts)
