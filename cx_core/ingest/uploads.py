"""Saving a browser upload to disk so it loads by path like any other file, and cleaning up after.

Each browser session writes into its own folder under ``ingest.upload_dir`` (mode 0700, files
0600, names are random, never user text).  The page deletes an upload as soon as it has been
loaded; folders of sessions that went away are removed by :func:`drop_stale_uploads` when the
app starts and whenever a new session begins.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import BinaryIO

_SUFFIX_RE = re.compile(r"(\.(csv|tsv|txt|parquet|json|jsonl|ndjson|xlsx|xlsm))?(\.gz)?$", re.IGNORECASE)
#: file types the loader reads (what an upload's name may end with; .gz allowed after text types)
UPLOAD_TYPES = ("csv", "tsv", "txt", "gz", "parquet", "json", "jsonl", "ndjson", "xlsx", "xlsm")


def upload_refusal(name: str) -> str | None:
    """Why an upload cannot be read, in words that say what to do (None: a supported type)."""
    lower = (name or "").lower()
    if lower.endswith(tuple(f".{t}" for t in UPLOAD_TYPES)):
        return None
    ext = lower.rsplit(".", 1)[-1] if "." in lower else ""
    what = f"'.{ext}' files" if ext else "files without an extension"
    advice = (
        "Save the sheet as .xlsx (or CSV) and upload that."
        if ext in ("xls", "ods", "numbers", "xlsb")
        else "Export it as CSV (UTF-8), Excel .xlsx, Parquet or JSON lines and upload that."
    )
    return (
        f"This app cannot read {what}. Supported: CSV/TSV/TXT (also .gz), Excel .xlsx, "
        f"Parquet, JSON lines. {advice}"
    )


_SESSION_RE = re.compile(r"^[0-9a-f]{32}$")


def safe_suffix(name: str) -> str:
    """The file's known extension chain (e.g. '.csv.gz'), or '' — never user text beyond that."""
    m = _SUFFIX_RE.search(name or "")
    return m.group(0).lower() if m else ""


def new_session_token() -> str:
    """A random folder name for one browser session's uploads."""
    return uuid.uuid4().hex


def session_upload_dir(upload_dir: str | Path, token: str) -> Path:
    """The session's private upload folder (created 0700); ``token`` must come from :func:`new_session_token`."""
    if not _SESSION_RE.fullmatch(token or ""):
        raise ValueError("not an upload session token")
    root = Path(upload_dir)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = root / token
    folder.mkdir(exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    return folder


def save_upload(fileobj: BinaryIO, name: str, upload_dir: str | Path) -> Path:
    """Copy an uploaded file object to a fresh, safely named file (mode 0600) in ``upload_dir``."""
    folder = Path(upload_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / f"{uuid.uuid4().hex}{safe_suffix(name)}"
    if hasattr(fileobj, "seek"):
        fileobj.seek(0)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(fileobj, out, length=1 << 22)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def discard_upload(path: str | Path) -> None:
    """Delete a saved upload (after it was loaded); a missing file is fine."""
    Path(path).unlink(missing_ok=True)


def drop_session_uploads(upload_dir: str | Path, token: str) -> None:
    """Delete one session's upload folder and everything in it."""
    if _SESSION_RE.fullmatch(token or ""):
        shutil.rmtree(Path(upload_dir) / token, ignore_errors=True)


def drop_stale_uploads(upload_dir: str | Path, max_age_s: float, keep: str | None = None) -> int:
    """Delete uploads (session folders and loose files) untouched for ``max_age_s`` seconds,
    except the folder ``keep``; returns how many entries were removed."""
    root = Path(upload_dir)
    if not root.is_dir():
        return 0
    removed = 0
    now = time.time()
    for entry in root.iterdir():
        try:
            newest = max(
                [entry.stat().st_mtime, *(f.stat().st_mtime for f in entry.iterdir())]
                if entry.is_dir()
                else [entry.stat().st_mtime]
            )
            if entry.name == keep or now - newest <= max_age_s:
                continue
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            removed += 1
        except OSError:
            continue  # another session removed or is writing it
    return removed
