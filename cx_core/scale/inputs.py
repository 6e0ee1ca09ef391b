"""Input files of a scale run: glob expansion and the review column mapping."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Iterable, Sequence

#: canonical columns every batch carries into the workers
ROW_COLUMNS = ("dataset_id", "review_id", "text")
_REMOTE = ("s3://", "gs://", "gcs://", "abfs://", "abfss://", "hdfs://", "az://")


def expand_inputs(patterns: Sequence[str]) -> list[str]:
    """Files named by ``patterns`` (local globs, sorted; remote URIs such as ``s3://`` pass as they
    are). Raises ValueError when a local pattern matches nothing or formats are mixed."""
    files: list[str] = []
    for pattern in patterns:
        if pattern.startswith(_REMOTE):
            files.append(pattern)
            continue
        hits = sorted(
            str(Path(p).resolve())
            for p in glob.glob(str(Path(pattern).expanduser()), recursive=True)
            if Path(p).is_file()
        )
        if not hits:
            raise ValueError(f"No input file matches {pattern!r}.")
        files.extend(hits)
    if not files:
        raise ValueError("No input files given.")
    kinds = {input_format(f) for f in files}
    if len(kinds) > 1:
        raise ValueError(
            f"Inputs mix formats ({', '.join(sorted(kinds))}): give Parquet or CSV files, not both."
        )
    return list(dict.fromkeys(files))


def input_format(path: str) -> str:
    """``parquet`` or ``csv`` from the file name (``.csv.gz`` is CSV)."""
    name = path.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz", ".tsv")):
        return "csv"
    raise ValueError(f"Unsupported input {path!r}: use Parquet (.parquet) or CSV (.csv, .csv.gz).")


def review_mapping(
    columns: Iterable[str], overrides: dict[str, str | None] | None = None, dataset_id: str | None = None
) -> dict[str, str | None]:
    """Source column of ``dataset_id``, ``review_id`` and ``text``: the ingest mapping suggestion,
    then ``overrides`` (``{"review_id": "Review ID"}``). A column literally named ``dataset_id`` is
    used unless a constant ``dataset_id`` is given. Raises ValueError naming what is missing."""
    from cx_core.ingest.mapping import suggest_mapping

    cols = list(columns)
    found = suggest_mapping("reviews", cols)
    mapping: dict[str, str | None] = {
        "dataset_id": None if dataset_id else ("dataset_id" if "dataset_id" in cols else None),
        "review_id": found.get("review_id"),
        "text": found.get("text"),
    }
    for field, column in (overrides or {}).items():
        if field not in mapping:
            raise ValueError(f"--map {field}=...: only {', '.join(ROW_COLUMNS)} are used by a scale run.")
        if column is not None and column not in cols:
            raise ValueError(f"--map {field}={column}: no such column (columns: {', '.join(cols)}).")
        mapping[field] = column
    missing = [f for f in ("review_id", "text") if not mapping[f]]
    if missing:
        raise ValueError(
            f"No column for {', '.join(missing)} among {', '.join(cols)}: map it with --map FIELD=COLUMN."
        )
    if not mapping["dataset_id"] and not dataset_id:
        raise ValueError(
            "No dataset id: give --dataset-id (the workspace dataset these reviews belong "
            "to) or a dataset_id column."
        )
    return mapping
