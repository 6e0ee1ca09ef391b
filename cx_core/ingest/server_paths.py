"""Which files on the server the app may read when a user types a path.

A text box that takes a server path is a file-read hole in a web app, so the app
allows paths only under folders listed in ``ingest.allowed_dirs`` (empty: no
server paths at all). The check runs on the fully resolved path (symlinks and
``..`` followed) and every refusal carries the same words, so a refusal never
reveals whether a file exists or what it is. The CLI does not use this guard:
its user already has a shell on the machine.
"""

from __future__ import annotations

import os
from pathlib import Path

REFUSED = (
    "This path cannot be loaded from the app. Server paths are only allowed inside the "
    "folders your administrator listed (setting ingest.allowed_dirs)."
)


class ServerPathRefused(ValueError):
    """A typed server path outside the allowed folders (or not a readable file in them)."""

    def __init__(self) -> None:
        super().__init__(REFUSED)


def allowed_roots(allowed_dirs: str) -> list[Path]:
    """The configured folders (separated by ``os.pathsep`` or commas), resolved; missing ones dropped."""
    roots: list[Path] = []
    for part in allowed_dirs.replace(",", os.pathsep).split(os.pathsep):
        part = part.strip()
        if not part:
            continue
        root = Path(part).expanduser()
        if root.is_absolute() and root.resolve().is_dir():
            roots.append(root.resolve())
    return roots


def server_paths_enabled(allowed_dirs: str) -> bool:
    """Whether the app offers typed server paths at all."""
    return bool(allowed_roots(allowed_dirs))


def check_server_path(raw: str, allowed_dirs: str) -> Path:
    """The resolved path when it is a regular file inside an allowed folder; else ``ServerPathRefused``.

    Relative paths are taken relative to the first allowed folder, never to the
    server's working directory. Every failure raises the same message.
    """
    roots = allowed_roots(allowed_dirs)
    text = (raw or "").strip()
    if not roots or not text or "\x00" in text:
        raise ServerPathRefused()
    try:
        candidate = Path(text).expanduser()
        if not candidate.is_absolute():
            candidate = roots[0] / candidate
        resolved = candidate.resolve(strict=True)
        inside = any(resolved.is_relative_to(root) for root in roots)
        if not inside or not resolved.is_file() or not os.access(resolved, os.R_OK):
            raise ServerPathRefused()
    except (OSError, RuntimeError, ValueError) as exc:
        raise ServerPathRefused() from exc
    return resolved
