"""Ingest benchmark: our DuckDB path vs pandas.read_csv + insert, same files, same run.

Prints one JSON object: rows/s, wall seconds, CPU seconds (all threads; steadier than wall
on a loaded machine) and peak RSS of each side per file size, and the speed ratios.  Each
side is timed twice in the same process: ``seconds`` from process start (imports and the
database connection included: a one-off script) and ``load_seconds`` from the moment the
libraries are imported and the database is open (a running app, or a notebook with pandas
imported) to the committed rows.  ``--repeat`` runs every side that many times, in turns,
and reports the medians.  A third
side, ``duckdb_read_insert`` (DuckDB's own CSV reader straight into a table: no typing,
checks or report), is the floor any DuckDB path starts from.  Each measurement runs in its own process so
peak RSS is that load's alone.  Bigger files are Online Retail repeated with
distinct invoice numbers (so nothing is deduplicated away).

    python bench/ingest.py [--scales 1,4] [--repeat 3] [--src ../shared/data/online_retail/online_retail.csv.gz]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SRC = ROOT.parent / "shared" / "data" / "online_retail" / "online_retail.csv.gz"


def make_file(src: Path, scale: int, folder: Path) -> Path:
    """Online Retail repeated ``scale`` times as a gzip CSV with distinct invoice numbers."""
    import duckdb

    if scale == 1:
        return src
    out = folder / f"online_retail_x{scale}.csv.gz"
    duckdb.sql(
        "COPY (SELECT * REPLACE (InvoiceNo || '-' || CAST(k AS VARCHAR) AS InvoiceNo) "
        "FROM read_csv(?, all_varchar=true), range(?) t(k)) TO '"
        + str(out).replace("'", "''")
        + "' (HEADER, COMPRESSION gzip)",
        params=[str(src), scale],
    )
    return out


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker(method: str, path: str, db: str) -> dict:
    """Load one file by one method in this process; return seconds (from process start and
    from "libraries imported, database open"), CPU seconds, rows and peak RSS."""
    t0 = time.perf_counter()
    if method == "duckdb":
        import duckdb

        con = duckdb.connect(db)
        con.execute("SET threads = 2")
        t1, c1 = time.perf_counter(), _cpu()
        con.execute("CREATE TABLE orders AS SELECT * FROM read_csv(?)", [path])
        rows = con.execute("SELECT count(*) FROM orders").fetchone()[0]
        close = con.close
    elif method == "ours":
        sys.path.insert(0, str(ROOT))
        from cx_core.config import load_config
        from cx_core.ingest.load import load_file
        from cx_core.store.db import Workspace

        ws = Workspace.open(load_config(env={}, db__path=db).db)
        t1, c1 = time.perf_counter(), _cpu()
        rows = load_file(ws, path, "orders").rows_read
        close = ws.close
    else:
        import duckdb
        import pandas as pd

        con = duckdb.connect(db)
        t1, c1 = time.perf_counter(), _cpu()
        df = pd.read_csv(path, encoding="latin-1" if "latin" in path else "utf-8")
        con.register("df", df)
        con.execute("CREATE TABLE orders AS SELECT * FROM df")
        rows = len(df)
        close = con.close
    t2, c2 = time.perf_counter(), _cpu()
    close()
    return {
        "method": method,
        "seconds": round(t2 - t0, 3),
        "load_seconds": round(t2 - t1, 3),
        "cpu_seconds": round(c2, 3),
        "load_cpu_seconds": round(c2 - c1, 3),
        "rows": rows,
        "rows_per_s": round(rows / (t2 - t0)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def median_run(runs: list[dict]) -> dict:
    """The per-key median of several runs of one side (``runs``: how many)."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and key != "rows":
            out[key] = statistics.median(r[key] for r in runs)
    out["runs"] = len(runs)
    return out


def run_worker(method: str, path: Path, folder: Path) -> dict:
    db = folder / f"{method}-{path.stem}-{time.time_ns()}.duckdb"
    out = subprocess.run(
        [sys.executable, __file__, "--worker", method, str(path), str(db)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run both sides at each scale and print the JSON report."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="1,4")
    ap.add_argument("--src", default=str(DEFAULT_SRC))
    ap.add_argument("--repeat", type=int, default=3, help="runs per side (medians are reported)")
    ap.add_argument("--worker", nargs=3, metavar=("METHOD", "PATH", "DB"))
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for scale in [int(s) for s in args.scales.split(",")]:
            path = make_file(Path(args.src), scale, folder)
            runs: dict[str, list[dict]] = {"ours": [], "pandas": [], "duckdb": []}
            for _ in range(max(1, args.repeat)):  # in turns, so drifting load hits every side alike
                for method, done in runs.items():
                    done.append(run_worker(method, path, folder))
            ours, base, floor = (median_run(runs[m]) for m in ("ours", "pandas", "duckdb"))
            results.append(
                {
                    "scale": scale,
                    "file_mb": round(path.stat().st_size / 1e6, 1),
                    "ours": ours,
                    "pandas_read_csv_insert": base,
                    "duckdb_read_insert": floor,
                    "speed_ratio": round(base["seconds"] / ours["seconds"], 2),
                    "load_speed_ratio": round(base["load_seconds"] / ours["load_seconds"], 2),
                    "cpu_ratio": round(base["cpu_seconds"] / ours["cpu_seconds"], 2),
                    "load_cpu_ratio": round(base["load_cpu_seconds"] / ours["load_cpu_seconds"], 2),
                }
            )
    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "date": date.today().isoformat(),
                "device": f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                "load_avg": os.getloadavg()[0],
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
