"""The manifest of a scale run (``manifest.json`` next to its ``shards/``) and shard counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
SHARDS = "shards"
FORMAT = "cx-scale-embed-score/1"
PROFILES_FORMAT = "cx-scale-profiles/1"
SEGMENTS_FORMAT = "cx-scale-segments/1"
#: what each run format brings into the workspace (the Data page shows it)
FORMATS = {
    FORMAT: "review vectors (+ review scores)",
    PROFILES_FORMAT: "customer profiles",
    SEGMENTS_FORMAT: "customer segments",
}


def shard_dir(out_dir: str | Path) -> Path:
    """Where a run's Parquet shards live."""
    return Path(out_dir) / SHARDS


def shard_files(out_dir: str | Path) -> list[Path]:
    """The run's Parquet shards, sorted."""
    return sorted(shard_dir(out_dir).glob("*.parquet"))


def count_shards(out_dir: str | Path) -> dict[str, Any]:
    """Rows, cached, encoded and scored rows and the encoder ids over the shards (reads only those
    columns)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    counts: dict[str, Any] = {"rows": 0, "cached": 0, "encoded": 0, "scored": 0, "shards": 0}
    model_ids: set[str] = set()
    for f in shard_files(out_dir):
        t = pq.read_table(f, columns=["model_id", "cached", "encoded", "scored"])
        model_ids.update(pc.unique(t.column("model_id")).to_pylist())
        counts["shards"] += 1
        counts["rows"] += t.num_rows
        for name in ("cached", "encoded", "scored"):
            counts[name] += int(pc.sum(t.column(name)).as_py() or 0)
    counts["model_ids"] = sorted(model_ids)
    return counts


def write_manifest(out_dir: str | Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` (last, so its presence means the shards are complete)."""
    path = Path(out_dir) / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


def read_manifest(out_dir: str | Path) -> dict[str, Any]:
    """The manifest of a finished run; ValueError when the folder holds no finished run."""
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        raise ValueError(
            f"No finished scale run in {out_dir}: {MANIFEST} is missing (the run failed or is still writing)."
        )
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") not in FORMATS:
        raise ValueError(f"{path} is not a scale run manifest (format {manifest.get('format')!r}).")
    return manifest


def count_rows(out_dir: str | Path) -> dict[str, int]:
    """Rows and shards of a run (from the Parquet footers only)."""
    import pyarrow.parquet as pq

    files = shard_files(out_dir)
    return {"rows": sum(pq.ParquetFile(f).metadata.num_rows for f in files), "shards": len(files)}
