"""First start: open the workspace and, when it has never held data, load the demo store."""

from __future__ import annotations

from pathlib import Path

from cx_core.config import Config
from cx_core.ingest.load import LoadReport, load_file
from cx_core.progress import Progress
from cx_core.store.db import Workspace

DEMO_FILES = (("customers", "customers.csv"), ("orders", "orders.csv"), ("reviews", "reviews.csv"))


def demo_seeded(ws: Workspace) -> bool:
    """Whether the demo store was ever loaded into this workspace (deleting it does not re-seed)."""
    return ws.scalar("SELECT count(*) FROM meta WHERE key = 'demo_seeded'") > 0


def load_demo(ws: Workspace, cfg: Config, progress: Progress | None = None) -> list[LoadReport]:
    """Write the demo CSV files (deterministic) and load the three tables with suggested mappings."""
    from cx_core.ingest.demo import write_demo

    step = progress or (lambda f, m: None)
    step(0.0, "Generating the demo store")
    paths = write_demo(Path(cfg.demo.dir), seed=cfg.demo.seed, n_customers=cfg.demo.customers)
    reports = []
    for i, (kind, fname) in enumerate(DEMO_FILES):
        path = paths.get(kind, Path(cfg.demo.dir) / fname)
        step(0.2 + 0.8 * i / len(DEMO_FILES), f"Loading demo {kind}")
        reports.append(load_file(ws, path, kind, name=f"demo/{fname}"))
    with ws.write() as cur:
        cur.execute("INSERT OR REPLACE INTO meta VALUES ('demo_seeded', ?)", [str(cfg.demo.seed)])
    step(1.0, "Demo data loaded")
    return reports


def ensure_demo(ws: Workspace, cfg: Config, progress: Progress | None = None) -> list[LoadReport]:
    """Load the demo store into a brand-new workspace; otherwise do nothing.

    A first load that was interrupted (the browser moved on while the demo loaded) is completed:
    while the demo was never fully seeded and only demo datasets are present, the missing files are
    loaded (those already loaded are skipped by their content hash).
    """
    if demo_seeded(ws):
        return []
    if ws.scalar("SELECT count(*) FROM datasets") > len(demo_dataset_ids(ws)):
        return []  # the user's own data: never add the demo next to it
    return load_demo(ws, cfg, progress)


def first_analysis_pending(ws: Workspace) -> bool:
    """Whether the demo store was loaded and its first end-to-end analysis was never started."""
    return demo_seeded(ws) and not ws.scalar("SELECT count(*) FROM meta WHERE key = 'first_analysis'")


def mark_first_analysis(ws: Workspace, job_id: str) -> None:
    """Remember that the first analysis was started (it is started once per workspace)."""
    with ws.write() as cur:
        cur.execute("INSERT OR REPLACE INTO meta VALUES ('first_analysis', ?)", [job_id])


def demo_dataset_ids(ws: Workspace) -> list[str]:
    """Ids of the demo store's datasets still loaded (their source name starts with ``demo/``)."""
    df = ws.query_df(
        "SELECT dataset_id FROM datasets WHERE source_name IN (?, ?, ?) ORDER BY dataset_id",
        [f"demo/{f}" for _, f in DEMO_FILES],
    )
    return df["dataset_id"].tolist()


def mixed_with_demo(ws: Workspace) -> bool:
    """Whether the user's own data sits next to the demo store (every analysis would mix them)."""
    demo = demo_dataset_ids(ws)
    return bool(demo) and ws.scalar("SELECT count(*) FROM datasets") > len(demo)


def remove_demo(ws: Workspace) -> int:
    """Delete the demo store's datasets and their rows; returns how many were deleted."""
    from cx_core.ingest.load import delete_dataset

    return sum(bool(delete_dataset(ws, d)) for d in demo_dataset_ids(ws))
