"""Command line: ``python -m cx_core <command>`` runs every feature headless.

Commands: ``demo`` (write and load the demo store), ``load`` (validate and load
a file), ``datasets`` (list), ``delete`` (remove a dataset).  Progress goes to
stderr; results to stdout; exit code 2 for bad input with a plain message.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from cx_core.cli import actions, batch, customers, recommend, reviews, scale, segments, themes_export, users
from cx_core.cli.common import parse_map
from cx_core.cli.common import progress_bar as _progress
from cx_core.config import Config, load_config
from cx_core.ingest.load import InputFileError, MappingError
from cx_core.ingest.mapping import KINDS
from cx_core.pipeline import handoff
from cx_core.pipeline.graph import run_named
from cx_core.store.db import Workspace, WorkspaceError, WorkspaceLocked


def cmd_demo(ws: Workspace, args, cfg) -> int:
    from cx_core.ingest.bootstrap import load_demo

    for rep in load_demo(ws, cfg, _progress):
        print("\n".join(rep.summary_lines()))
    return 0


def cmd_load(ws: Workspace, args, cfg) -> int:
    from cx_core.ingest.load import load_file, read_columns
    from cx_core.ingest.mapping import suggest_mapping
    from cx_core.ingest.readers import inspect_file

    mapping = None
    if args.map:
        _, columns = read_columns(ws, inspect_file(args.path))
        mapping = {**suggest_mapping(args.kind, columns), **parse_map(args.map)}
    from cx_core.ingest.options import options_from_config

    opts = options_from_config(cfg.ingest, decimal=args.decimal, duplicates=args.duplicates, sheet=args.sheet)
    rep = load_file(
        ws,
        args.path,
        args.kind,
        mapping,
        dry_run=args.dry_run,
        replace_dataset=args.replace,
        progress=_progress,
        options=opts,
    )
    print("Mapping: " + ", ".join(f"{k}={v}" for k, v in rep.mapping.items() if v))
    print("\n".join(rep.summary_lines()))
    if rep.dataset_id:
        print(f"dataset_id: {rep.dataset_id}")
    return 0


def cmd_datasets(ws: Workspace, args, cfg) -> int:
    from cx_core.ingest.datasets import list_datasets

    df = list_datasets(ws)
    print(df.to_string(index=False) if not df.empty else "No datasets loaded.")
    return 0


def cmd_delete(ws: Workspace, args, cfg) -> int:
    from cx_core.ingest.load import delete_dataset

    if delete_dataset(ws, args.dataset_id):
        print(f"Deleted {args.dataset_id}.")
        return 0
    print(f"No dataset {args.dataset_id}.", file=sys.stderr)
    return 2


def cmd_profile(ws: Workspace, args, cfg) -> int:
    from cx_core.customers.profiles import ProfileSettings

    settings = ProfileSettings.from_config(
        cfg.customers,
        horizon_weeks=args.horizon_weeks,
        annual_discount_rate=args.discount_rate,
        cutoff=args.cutoff,
    )
    res = run_named("profiles", ws, cfg, _progress, settings=settings).output
    p = res.profiles
    print(
        f"run_id: {res.run_id}\ncustomers: {len(p):,}\ntotal predicted CLV: {p['clv'].sum():,.2f}\n"
        f"BG/NBD: {res.metrics['bgnbd'].get('params')}\n"
        f"Gamma-Gamma: {res.metrics['gamma_gamma'].get('params', res.metrics['gamma_gamma'])}"
    )
    for w in res.metrics["bgnbd"].get("warnings", []):
        print(f"warning: {w}")
    return 0


def cmd_embed(ws: Workspace, args, cfg) -> int:
    result = run_named("embed", ws, cfg, _progress)
    if result.output is None:
        raise ValueError(f"Nothing to embed: {result.reason}.")
    stats = result.output
    print("\n".join(f"{k}: {v}" for k, v in stats.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-command per feature)."""
    p = argparse.ArgumentParser(prog="python -m cx_core", description=__doc__.splitlines()[0])
    p.add_argument("--db", help="DuckDB workspace file (default: CX_DB_PATH or data/workspace.duckdb)")
    p.add_argument(
        "--no-handoff",
        action="store_true",
        help="when the app holds the workspace, fail instead of handing the command to the app",
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="write the demo store to data/demo and load it")
    load = sub.add_parser("load", help="validate and load a CSV / CSV.gz / Parquet / JSON-lines file")
    load.add_argument("path")
    load.add_argument("--kind", required=True, choices=KINDS)
    load.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="override the suggested mapping (repeatable); FIELD= unmaps",
    )
    load.add_argument("--dry-run", action="store_true", help="validate and report only")
    load.add_argument(
        "--decimal",
        default="auto",
        choices=("auto", "point", "comma", ".", ","),
        help="decimal separator of numbers: auto, point (.) or comma (,)",
    )
    load.add_argument(
        "--duplicates",
        default="auto",
        choices=("auto", "keep", "drop"),
        help="order lines repeating another line exactly (auto: keep with a line or no quantity column)",
    )
    load.add_argument("--sheet", help="Excel: the sheet to load (default: the first)")
    load.add_argument("--replace", metavar="DATASET_ID", help="replace this dataset in the same transaction")
    sub.add_parser("datasets", help="list loaded datasets")
    d = sub.add_parser("delete", help="delete a dataset and its rows")
    d.add_argument("dataset_id")
    pr = sub.add_parser("profile", help="customer profiles: RFM, BG/NBD, Gamma-Gamma CLV")
    pr.add_argument("--horizon-weeks", type=int, default=52)
    pr.add_argument("--discount-rate", type=float, default=0.10, help="yearly")
    pr.add_argument("--cutoff", help="last day to use (default: last order day)")
    sub.add_parser("embed", help="embed every review text not yet cached (MiniLM, CPU or GPU)")
    for module in COMMAND_MODULES:
        COMMANDS.update(module.register(sub))
    return p


#: modules that add sub-commands: each has ``register(subparsers) -> {name: handler}``; an explicit
#: list, so a missing command module is an import error, never a silently absent command
COMMAND_MODULES = (reviews, customers, segments, themes_export, batch, recommend, actions, users, scale)


COMMANDS = {
    "demo": cmd_demo,
    "load": cmd_load,
    "datasets": cmd_datasets,
    "delete": cmd_delete,
    "profile": cmd_profile,
    "embed": cmd_embed,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code. When the app holds the workspace, the command is
    handed to it (:mod:`cx_core.pipeline.handoff`) and its output followed here."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    cfg = load_config(**({"db__path": args.db} if args.db else {}))
    try:
        ws = Workspace.open(cfg.db)
    except WorkspaceLocked as exc:
        if args.command == "users":  # passwords are typed here, never handed to another process
            print(
                f"error: {exc} User changes read passwords from this terminal: stop the app briefly, "
                "run the users command, start the app again.",
                file=sys.stderr,
            )
            return 2
        if not args.no_handoff and handoff.app_pid(cfg.db.path) is not None:
            return hand_off(cfg.db.path, argv)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except WorkspaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return dispatch(ws, args, cfg)
    finally:
        ws.close()


def hand_off(db_path: str, argv: list[str]) -> int:
    """Give the command to the running app and print its output as it comes."""
    req = handoff.submit(db_path, [a for a in argv if a != "--no-handoff"])
    print(
        f"The app holds {db_path}: the command runs there as job 'cli' (request {req}); "
        "it shows in the app's sidebar. Ctrl-C stops following, not the command.",
        file=sys.stderr,
    )
    return handoff.follow(db_path, req, sys.stdout, sys.stderr, timeout_s=120)


def dispatch(ws: Workspace, args: argparse.Namespace, cfg: Config) -> int:
    """Run the parsed command on an open workspace; expected problems exit 2 with a plain message."""
    try:
        return COMMANDS[args.command](ws, args, cfg)
    except MappingError as exc:
        print("error: the column mapping cannot be used:\n  " + "\n  ".join(exc.problems), file=sys.stderr)
        return 2
    except (InputFileError, WorkspaceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run_in_app(ws: Workspace, cfg: Config, argv: Sequence[str]) -> int:
    """What the app runs for a handed-off command: the same parser and handler, on the app's workspace
    (``--db`` must name the app's own file)."""
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit as exc:  # argparse already printed why
        return int(exc.code or 2)
    if args.db and Path(args.db).resolve() != Path(cfg.db.path).resolve():
        print(f"error: the app serves {cfg.db.path}, not {args.db}", file=sys.stderr)
        return 2
    return dispatch(ws, args, cfg)
