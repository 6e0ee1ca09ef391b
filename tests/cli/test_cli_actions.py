"""``python -m cx_core actions``: next best action and over-indexing products per segment (text and CSV)."""

from __future__ import annotations

import io

import pandas as pd

from cx_core.cli.actions import CSV_COLUMNS, actions_table
from cx_core.cli.main import main
from cx_core.store.db import Workspace
from tests.segments.test_segment_actions import RUN, _seed

XSS = "<img src=x onerror=alert(1)>"
FORMULA = "=HYPERLINK(1)"


def _db(cfg, name: str) -> str:
    ws = Workspace.open(cfg.db)
    try:
        _seed(ws)
        with ws.write() as cur:
            cur.execute("UPDATE segment_info SET name = ? WHERE segment_id = 1", [name])
    finally:
        ws.close()
    return cfg.db.path


def test_actions_table_matches_segment_actions(ws):
    _seed(ws, XSS)
    t = actions_table(ws).set_index("segment_id")
    assert list(t.reset_index().columns) == CSV_COLUMNS and -1 not in t.index
    big = t.loc[0]
    assert big["rule"] == "Valuable, at risk, delivery complaints" and big["fix"] == "delivery"
    assert big["reason"].startswith("CLV high, churn risk high") and "complaints: delivery" in big["reason"]
    # x: 4 of segment 0's 5 customers vs 5 of the run's 11 bought it -> lift 0.8 / (5/11) = 1.76
    assert big["top_products"].startswith(f"x {XSS} [x] (lift 1.76)")
    assert t.loc[1, "top_products"].startswith("z") and t.loc[3, "top_products"] == ""


def test_cli_text_csv_and_errors(cfg, capsys):
    db = _db(cfg, FORMULA)
    assert main(["--db", db, "actions"]) == 0
    out = capsys.readouterr().out
    assert "segment 0: Big spenders" in out and "action: Service-recovery offer" in out
    assert "products that over-index: x" in out
    assert main(["--db", db, "actions", "--run", RUN, "--csv", "--top", "1"]) == 0
    df = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(df.columns) == CSV_COLUMNS and len(df) == 4
    assert df.loc[1, "name"] == "'" + FORMULA  # spreadsheet formula neutralised
    assert main(["--db", db, "actions", "--run", "nope"]) == 2
    assert "No segment run 'nope'" in capsys.readouterr().err
    assert main(["--db", db, "actions", "--top", "0"]) == 2


def test_cli_without_segments(cfg, capsys):
    assert main(["--db", cfg.db.path, "actions"]) == 2
    assert "No segment run yet" in capsys.readouterr().err
