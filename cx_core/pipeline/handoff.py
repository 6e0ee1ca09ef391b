"""Hand-off: the CLI gives its command to the running app, which is the workspace's single writer.

DuckDB lets one process open a database file for writing. While the app is up it holds the file, so a
``python -m cx_core ...`` command would fail with "workspace locked". Instead, the app leaves a marker
next to the file (``<db>.app.json``: its pid) and watches an inbox folder (``<db>.inbox/``, mode 0700);
the CLI, finding the file locked and the app alive, writes its argv there and follows the output. The
app runs the very same command handler on its own open workspace as a job (visible in every tab), so
its pages keep serving reads while the batch writes, and the batch's runs show in the app as they land.

Files per request ``<id>``: ``<id>.json`` (argv; renamed ``<id>.taken`` when the app claims it),
``<id>.out`` / ``<id>.err`` (the command's output, appended as it is written) and ``<id>.done`` (the
exit code, written last). Killing the CLI leaves the command running in the app; killing the app marks
its job ``interrupted`` at the next start (finished work stays; rerun to continue).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

POLL_S = 0.5


def inbox_dir(db_path: str) -> Path:
    """The folder the app watches for commands."""
    return Path(f"{db_path}.inbox")


def marker_path(db_path: str) -> Path:
    """The file that says which process (the app) holds the workspace."""
    return Path(f"{db_path}.app.json")


def write_marker(db_path: str, pid: int | None = None) -> None:
    """Announce that this process (the app) holds ``db_path`` and serves its inbox."""
    folder = inbox_dir(db_path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    _atomic_write(marker_path(db_path), json.dumps({"pid": pid or os.getpid(), "since": time.time()}))


def app_pid(db_path: str) -> int | None:
    """The pid of the live app holding ``db_path``, or None (no marker, or its process is gone)."""
    try:
        pid = int(json.loads(marker_path(db_path).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


# ---------------------------------------------------------------- the CLI side


def submit(db_path: str, argv: list[str]) -> str:
    """Put a command in the app's inbox; returns the request id."""
    req_id = f"{time.strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:8]}"
    _atomic_write(inbox_dir(db_path) / f"{req_id}.json", json.dumps({"argv": argv, "pid": os.getpid()}))
    return req_id


def follow(
    db_path: str,
    req_id: str,
    out: TextIO,
    err: TextIO,
    poll_s: float = POLL_S,
    timeout_s: float | None = None,
) -> int:
    """Copy the request's output to ``out``/``err`` as it is written; return its exit code
    (3 when the app stopped before finishing it, 4 when nobody claimed it in time)."""
    folder = inbox_dir(db_path)
    offsets = {"out": 0, "err": 0}
    started = time.monotonic()
    while True:
        for kind, stream in (("out", out), ("err", err)):
            offsets[kind] = _copy_new(folder / f"{req_id}.{kind}", offsets[kind], stream)
        done = folder / f"{req_id}.done"
        if done.exists():
            for kind, stream in (("out", out), ("err", err)):
                _copy_new(folder / f"{req_id}.{kind}", offsets[kind], stream)
            return int(done.read_text().strip() or 1)
        claimed = (folder / f"{req_id}.taken").exists()
        if app_pid(db_path) is None:
            err.write(
                "\nerror: the app stopped before the command finished; its job is marked interrupted "
                "(finished work is kept: run the command again to continue).\n"
            )
            return 3
        if not claimed and timeout_s is not None and time.monotonic() - started > timeout_s:
            err.write("\nerror: the app did not pick up the command in time.\n")
            return 4
        time.sleep(poll_s)


def _copy_new(path: Path, offset: int, stream: TextIO) -> int:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            f.seek(offset)
            chunk = f.read()
    except FileNotFoundError:
        return offset
    if chunk:
        stream.write(chunk)
        stream.flush()
    return offset + len(chunk.encode("utf-8"))


# ---------------------------------------------------------------- the app side


@dataclass(frozen=True)
class Request:
    """A claimed command: its id, argv and the files its output goes to."""

    req_id: str
    argv: list[str]
    out_path: Path
    err_path: Path
    done_path: Path


def claim_next(db_path: str) -> Request | None:
    """Take the oldest waiting command (renaming it so no other server takes it too)."""
    folder = inbox_dir(db_path)
    for path in sorted(folder.glob("*.json")):
        taken = path.with_suffix(".taken")
        try:
            path.replace(taken)
            argv = [str(a) for a in json.loads(taken.read_text(encoding="utf-8"))["argv"]]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        rid = path.stem
        return Request(rid, argv, folder / f"{rid}.out", folder / f"{rid}.err", folder / f"{rid}.done")
    return None


def finish(req: Request, code: int) -> None:
    """Record the exit code (the CLI stops following)."""
    _atomic_write(req.done_path, str(int(code)))


def serve_forever(
    db_path: str, handle: Callable[[Request], int], stop: Callable[[], bool], poll_s: float = POLL_S
) -> None:
    """Run each claimed command through ``handle`` until ``stop()``; one at a time."""
    write_marker(db_path)
    while not stop():
        req = claim_next(db_path)
        if req is None:
            time.sleep(poll_s)
            continue
        try:
            code = handle(req)
        except Exception as exc:  # noqa: BLE001 - the CLI gets any failure as its error output
            with open(req.err_path, "a", encoding="utf-8") as err:
                err.write(f"error: {type(exc).__name__}: {exc}\n")
            code = 1
        finish(req, code)
