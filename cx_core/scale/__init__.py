"""Scaling out: the embed + score stages over partitions on a Ray cluster, Parquet in and out.

``run.py`` builds the Ray Data pipeline (read review rows -> an actor pool that embeds and scores
each batch -> Parquet shards + ``manifest.json``); ``worker.py`` holds the per-batch work (plain
functions, testable without Ray) and the actor class; ``inputs.py`` finds input files and maps their
columns; ``manifest.py`` reads and writes the run's manifest; ``store.py`` brings a finished run back
into a workspace in one transaction (``python -m cx_core import-run DIR``).

Layer: may import ``pipeline`` and the feature packages; only ``cli`` imports it. Ray is imported
lazily, inside the functions that need it.
"""
