"""Scaling out: the heavy stages over partitions on a Ray cluster, Parquet in and out.

Embed + score: ``run.py`` builds the Ray Data pipeline (read review rows -> an actor pool that
embeds and scores each batch -> Parquet shards + ``manifest.json``); ``worker.py`` holds the
per-batch work (plain functions, testable without Ray) and the actor class. Profiles:
``profiles_run.py`` (Ray passes) over ``orders.py`` (order mapping, customer partitions) and
``profiles.py`` (per-partition work, the one-off fits, scoring). Segments: ``segments_run.py`` over
``segments.py`` (seeded sample, fit, placement). ``inputs.py`` finds input files; ``manifest.py``
reads and writes a run's manifest; ``stats.py`` records each worker's rows and peak memory;
``store.py`` and ``imports.py`` bring a finished run back into a workspace in one transaction
(``python -m cx_core import-run DIR`` or the Data page).

Layer: may import ``pipeline`` and the feature packages; only ``cli`` imports it (and the Data
page, for the import box). Ray is imported lazily, inside the functions that need it.
"""
