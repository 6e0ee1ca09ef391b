"""Command line: ``python -m cx_core <command>``; the command table lives in :mod:`cx_core.cli.main.main`."""
