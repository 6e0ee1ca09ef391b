"""Export options beyond the round trip: Excel from the CLI, the spreadsheet-safe flag, rounding,
and generated text masked with the personal data."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest

from cx_core.insight.export import export_frame, export_segments
from cx_core.insight.export_files import looks_like_formula, round_floats, to_bytes
from tests.insight.test_export import FORMULA, seed_workspace


def test_cli_writes_excel_and_guards_everything_when_asked(cfg, tmp_path, capsys):
    from cx_core.cli.main import main
    from cx_core.store.db import Workspace

    w = Workspace.open(cfg.db)
    seed_workspace(w)
    w.close()
    out = tmp_path / "crm.xlsx"
    assert main(["--db", cfg.db.path, "export", "--out", str(out), "--no-mask"]) == 0
    assert "(xlsx, personal data shown)" in capsys.readouterr().out
    sheet = openpyxl.load_workbook(out)["export"]
    rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]
    assert header[:3] == ("customer_id", "segment_id", "segment_name") and len(body) == 5
    c1 = next(r for r in body if r["customer_id"] == "C1")
    assert c1["segment_name"] == FORMULA and c1["phone"] == "+44 7700 900123"  # text, not formulas
    assert c1["clv"] == 120.0 and c1["is_outlier"] is False  # typed cells
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    csv_out = tmp_path / "safe.csv"
    assert (
        main(["--db", cfg.db.path, "export", "--out", str(csv_out), "--no-mask", "--spreadsheet-safe"]) == 0
    )
    assert "every text column formula-guarded" in capsys.readouterr().out
    back = pd.read_csv(csv_out, dtype=str, keep_default_na=False)
    assert back.set_index("customer_id").loc["C3", "email"] == "'-cat@example.net"
    for col in ("segment_name", "name", "email", "phone", "churn_method"):
        assert not back[col].map(looks_like_formula).any(), col


def test_floats_rounded_in_csv_and_excel_full_in_parquet(seeded_probs):
    ws = seeded_probs
    csv_row = pd.read_csv(io.BytesIO(export_segments(ws, fmt="csv")), dtype=str).set_index("customer_id")
    assert csv_row.loc["C1", "segment_probability"] == "0.1235" and csv_row.loc["C1", "clv"] == "120.12"
    pq_row = pd.read_parquet(io.BytesIO(export_segments(ws, fmt="parquet"))).set_index("customer_id")
    assert pq_row.loc["C1", "segment_probability"] == 0.123456789012345
    assert pq_row.loc["C1", "clv"] == 120.123456


def test_masking_covers_generated_names(ws):
    seed_workspace(ws)
    with ws.write() as cur:
        cur.execute(
            "UPDATE segment_info SET name = 'Service — ann@example.com, 07700 900123' "
            "WHERE run_id = 'seg1' AND segment_id = 1"
        )
    masked = export_frame(ws).set_index("customer_id")
    assert masked.loc["C3", "segment_name"] == "Service — a•••@e•••.com, •••••"
    shown = export_frame(ws, mask_pii=False).set_index("customer_id")
    assert shown.loc["C3", "segment_name"] == "Service — ann@example.com, 07700 900123"


def test_round_floats_keeps_missing_and_ints():
    df = pd.DataFrame({"p": [0.123456, None], "clv": [1.005, 2.0], "n": [1, 2]})
    out = round_floats(df)
    assert out["p"].iloc[0] == 0.1235 and pd.isna(out["p"].iloc[1]) and out["n"].tolist() == [1, 2]
    assert out["clv"].tolist() == [round(1.005, 2), 2.0]
    assert to_bytes(df, "csv").decode().splitlines()[1] == '"0.1235","1.0","1"'


@pytest.fixture
def seeded_probs(ws):
    seed_workspace(ws)
    with ws.write() as cur:
        cur.execute("UPDATE segments SET probability = 0.123456789012345 WHERE unit_id = 'C1'")
        cur.execute(
            "UPDATE customer_profiles SET clv = 120.123456 WHERE customer_id = 'C1' AND run_id = 'prof1'"
        )
    return ws
