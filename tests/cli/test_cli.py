"""The command line runs headless and reports bad input with exit code 2."""

import subprocess
import sys

from cx_core.cli.main import main
from tests.conftest import ROOT


def test_load_list_delete(tmp_path, capsys):
    db = str(tmp_path / "w.duckdb")
    f = tmp_path / "r.csv"
    f.write_text("user,comment,stars\nu1,love it,5\nu2,,1\n")
    assert main(["--db", db, "load", str(f), "--kind", "reviews", "--map", "customer_id=user"]) == 0
    out = capsys.readouterr().out
    assert "1 rows loaded" in out and "empty review text" in out
    ds = out.split("dataset_id: ")[1].strip()
    assert main(["--db", db, "datasets"]) == 0 and ds in capsys.readouterr().out
    assert main(["--db", db, "delete", ds]) == 0
    assert main(["--db", db, "delete", ds]) == 2


def test_bad_input_exit_code(tmp_path, capsys):
    db = str(tmp_path / "w.duckdb")
    empty = tmp_path / "e.csv"
    empty.write_text("")
    assert main(["--db", db, "load", str(empty), "--kind", "orders"]) == 2
    assert "empty" in capsys.readouterr().err
    f = tmp_path / "x.csv"
    f.write_text("a,b\n1,2\n")
    assert main(["--db", db, "load", str(f), "--kind", "orders"]) == 2
    assert "Customer id" in capsys.readouterr().err


def test_module_entry_point(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "cx_core", "--db", str(tmp_path / "w.duckdb"), "datasets"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "No datasets" in r.stdout


def test_demo_then_profile(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CX_DEMO_DIR", str(tmp_path / "demo"))
    monkeypatch.setenv("CX_DEMO_CUSTOMERS", "500")
    db = str(tmp_path / "w.duckdb")
    assert main(["--db", db, "demo"]) == 0
    assert main(["--db", db, "profile", "--horizon-weeks", "26"]) == 0
    out = capsys.readouterr().out
    assert "run_id: run_" in out and "customers:" in out


def test_embed_command_embeds_only_new_texts(tmp_path, capsys):
    db = str(tmp_path / "w.duckdb")
    f = tmp_path / "r.csv"
    f.write_text("review_text,rating\nlove the fit,5\nlate delivery,1\nlove the fit,4\n")
    assert main(["--db", db, "load", str(f), "--kind", "reviews"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "embed"]) == 0
    first = capsys.readouterr().out
    assert "newly_encoded: 2" in first
    assert main(["--db", db, "embed"]) == 0
    assert "newly_encoded: 0" in capsys.readouterr().out
