"""The SQL gateway: identifier quoting, bound parameters, transactions, busy workspace."""

import threading

import pytest

from cx_core.store.db import Workspace, WorkspaceBusy, WorkspaceLocked
from cx_core.store.sql import quote_ident

HOSTILE = ['"; DROP TABLE orders; --', "<img src=x onerror=alert(1)>", 'a"b', "Robert'); --"]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("orders", '"orders"'),
        ('a"b', '"a""b"'),
        ('"; DROP TABLE orders; --', '"""; DROP TABLE orders; --"'),
        ("Customer ID", '"Customer ID"'),
    ],
)
def test_quote_ident_table(name, expected):
    assert quote_ident(name) == expected


@pytest.mark.parametrize("bad", ["", "a\x00b", None])
def test_quote_ident_refuses(bad):
    with pytest.raises(ValueError):
        quote_ident(bad)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_identifiers_round_trip(ws, name):
    with ws.write() as cur:
        cur.execute(f"CREATE TABLE t ({quote_ident(name)} VARCHAR)")
        cur.execute(f"INSERT INTO t ({quote_ident(name)}) VALUES (?)", [name])
    assert ws.execute(f"SELECT {quote_ident(name)} FROM t") == [(name,)]
    assert ws.table_exists("orders")


def test_values_are_bound(ws):
    value = "'); DROP TABLE meta; --"
    assert ws.scalar("SELECT ?", [value]) == value
    assert ws.table_exists("meta")


def test_write_rolls_back_on_error(ws):
    with pytest.raises(RuntimeError):
        with ws.write() as cur:
            cur.execute("INSERT INTO meta VALUES ('k', 'v')")
            raise RuntimeError("boom")
    assert ws.scalar("SELECT count(*) FROM meta WHERE key = 'k'") == 0


def test_second_writer_gets_busy(ws):
    started, release = threading.Event(), threading.Event()

    def hold():
        with ws.write():
            started.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    started.wait(5)
    try:
        with pytest.raises(WorkspaceBusy):
            with ws.write(timeout_s=0.2):
                pass
    finally:
        release.set()
        t.join()


def test_second_process_gets_clear_message(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "w.duckdb"
    code = "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); print('ok', flush=True); time.sleep(20)"
    p = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ok"
        with pytest.raises(WorkspaceLocked, match="open in another program"):
            Workspace(str(path))
    finally:
        p.kill()
