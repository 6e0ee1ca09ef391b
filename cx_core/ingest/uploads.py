"""Saving a browser upload to disk so it loads by path like any other file."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

_SUFFIX_RE = re.compile(r"(\.(csv|tsv|txt|parquet|json|jsonl|ndjson))?(\.gz)?$", re.IGNORECASE)


def safe_suffix(name: str) -> str:
    """The file's known extension chain (e.g. '.csv.gz'), or '' — never user text beyond that."""
    m = _SUFFIX_RE.search(name or "")
    return m.group(0).lower() if m else ""


def save_upload(fileobj: BinaryIO, name: str, upload_dir: str | Path) -> Path:
    """Copy an uploaded file object to a fresh, safely named file in ``upload_dir``."""
    folder = Path(upload_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{uuid.uuid4().hex}{safe_suffix(name)}"
    if hasattr(fileobj, "seek"):
        fileobj.seek(0)
    with open(target, "wb") as out:
        shutil.copyfileobj(fileobj, out, length=1 << 22)
    return target
