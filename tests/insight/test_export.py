"""Segment export: one row per unit, masking, spreadsheet-safe CSV, Parquet, outliers kept."""

from __future__ import annotations

import io
import json
from datetime import datetime

import pandas as pd
import pyarrow.parquet as pq
import pytest

from cx_core.insight.export import (
    BGNBD_METHOD,
    export_frame,
    export_segments,
    neutralise_formulas,
    segment_choices,
)
from cx_core.segments.query import segment_runs

XSS = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://evil.example","click me")'


def _insert(ws, table: str, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    with ws.write() as cur:
        cur.register("_rows", frame)
        cur.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
        cur.unregister("_rows")


def _run(ws, run_id: str, stage: str, when: str = "2026-01-01 10:00") -> None:
    ts = datetime.fromisoformat(when)
    with ws.write() as cur:
        cur.execute("INSERT INTO runs VALUES (?, ?, 'k', '{}', ?, ?, 'done', '{}')", [run_id, stage, ts, ts])


def seed_workspace(ws, churn_model: bool = False) -> None:
    """Five customers in two segments plus an outlier; one hostile name and segment name."""
    _insert(
        ws,
        "customers",
        [
            {
                "dataset_id": "c",
                "customer_id": "C1",
                "name": "Ada Lovelace",
                "email": "ada@example.com",
                "phone": "+44 7700 900123",
            },
            {
                "dataset_id": "c",
                "customer_id": "C2",
                "name": FORMULA,
                "email": "bob@example.org",
                "phone": "+44 7700 900456",
            },
            {"dataset_id": "c", "customer_id": "C3", "name": XSS, "email": "-cat@example.net", "phone": None},
            {"dataset_id": "c", "customer_id": "C4", "name": "Dee", "email": None, "phone": None},
            {
                "dataset_id": "c",
                "customer_id": "C5",
                "name": "Eve",
                "email": "eve@example.com",
                "phone": None,
            },
        ],
    )
    _insert(
        ws,
        "orders",
        [
            {
                "dataset_id": "o",
                "line_no": i,
                "order_id": f"O{i}",
                "customer_id": c,
                "ts": ts,
                "amount": amt,
                "is_return": amt < 0,
            }
            for i, (c, ts, amt) in enumerate(
                [
                    ("C1", "2026-01-02", 10.0),
                    ("C1", "2026-03-05", 20.0),
                    ("C1", "2026-04-01", -20.0),
                    ("C2", "2026-02-01", 5.0),
                    ("C3", "2025-12-24", 7.0),
                    ("C5", "2026-01-15", 9.0),
                ]
            )
        ],
    )
    _insert(
        ws,
        "reviews",
        [
            {"dataset_id": "r", "review_id": f"R{i}", "customer_id": c, "text": t, "text_hash": f"h{i}"}
            for i, (c, t) in enumerate(
                [("C1", "late"), ("C1", "small"), ("C1", "late again"), ("C2", "cheap"), ("C4", "nice")]
            )
        ],
    )
    _run(ws, "scores1", "review_scores")
    _insert(
        ws,
        "review_scores",
        [
            {
                "run_id": "scores1",
                "dataset_id": "r",
                "review_id": f"R{i}",
                "model_id": "m",
                "sentiment_method": "supervised",
                "sentiment": "negative",
                "aspects": a,
            }
            for i, a in enumerate([["delivery"], ["fit", "delivery"], ["delivery", "service"], ["price"], []])
        ],
    )
    _run(ws, "prof_old", "profiles", "2025-06-01 10:00")
    _run(ws, "prof1", "profiles")
    _insert(
        ws,
        "customer_profiles",
        [
            {"run_id": "prof1", "customer_id": c, "p_alive": pa, "clv": clv}
            for c, pa, clv in [("C1", 0.9, 120.0), ("C2", 0.4, 15.5), ("C3", 0.2, 3.0), ("C5", 0.7, 8.0)]
        ]
        + [{"run_id": "prof_old", "customer_id": "C1", "p_alive": 0.0, "clv": -1.0}],
    )
    if churn_model:
        with ws.write() as cur:
            cur.execute("ALTER TABLE customer_profiles ADD COLUMN IF NOT EXISTS churn_prob DOUBLE")
            cur.execute("ALTER TABLE customer_profiles ADD COLUMN IF NOT EXISTS churn_window VARCHAR")
            cur.execute(
                "UPDATE customer_profiles SET churn_prob = 0.25, churn_window = "
                "'no purchase in the 90 days after 2026-04-01' WHERE customer_id = 'C1'"
            )
    _run(ws, "seg1", "segments")
    _insert(
        ws,
        "segments",
        [
            {
                "run_id": "seg1",
                "unit_kind": "customer",
                "unit_id": c,
                "segment_id": s,
                "is_outlier": o,
                "probability": p,
                "x": 0.0,
                "y": 0.0,
            }
            for c, s, o, p in [
                ("C1", 0, False, 0.9),
                ("C2", 0, False, 0.8),
                ("C3", 1, False, 1.0),
                ("C4", 1, True, 0.0),
                ("C5", -1, True, 0.0),
            ]
        ],
    )
    _insert(
        ws,
        "segment_info",
        [
            {"run_id": "seg1", "segment_id": 0, "name": FORMULA, "size": 2},
            {"run_id": "seg1", "segment_id": 1, "name": XSS, "size": 2},
        ],
    )


@pytest.fixture
def seeded(ws):
    seed_workspace(ws)
    return ws


def test_one_row_per_customer_with_every_column(seeded):
    df = export_frame(seeded)
    assert list(df.columns) == [
        "customer_id",
        "segment_id",
        "segment_name",
        "is_outlier",
        "segment_probability",
        "churn_probability",
        "churn_method",
        "churn_window",
        "clv",
        "top_aspects",
        "recommended_items",
        "last_order_date",
        "name",
        "email",
        "phone",
    ]
    assert sorted(df["customer_id"]) == ["C1", "C2", "C3", "C4", "C5"]
    row = df.set_index("customer_id")
    assert row.loc["C1", "segment_name"] == FORMULA and row.loc["C3", "segment_name"] == XSS
    assert row.loc["C1", "churn_probability"] == pytest.approx(0.1)  # 1 - P(alive), latest run
    assert row.loc["C1", "churn_method"] == BGNBD_METHOD
    assert row.loc["C1", "clv"] == 120.0
    assert row.loc["C1", "top_aspects"] == "delivery (3), fit (1), service (1)"
    assert row.loc["C2", "top_aspects"] == "price (1)" and pd.isna(row.loc["C4", "top_aspects"])
    assert str(row.loc["C1", "last_order_date"])[:10] == "2026-03-05"  # returns do not count
    assert pd.isna(row.loc["C4", "churn_probability"]) and pd.isna(row.loc["C4", "churn_method"])


def test_outliers_are_exported_and_flagged(seeded):
    df = export_frame(seeded).set_index("customer_id")
    assert bool(df.loc["C5", "is_outlier"]) and df.loc["C5", "segment_id"] == -1
    assert df.loc["C5", "segment_name"] == "Outliers"
    assert bool(df.loc["C4", "is_outlier"]) and df.loc["C4", "segment_id"] == 1  # assigned


def test_personal_data_masked_unless_asked(seeded):
    masked = export_frame(seeded).set_index("customer_id")
    assert masked.loc["C1", "name"] == "A. L." and masked.loc["C1", "email"] == "a•••@e•••.com"
    assert masked.loc["C1", "phone"] == "•••• ••23"
    assert "ada@example.com" not in export_segments(seeded).decode()
    plain = export_frame(seeded, mask_pii=False).set_index("customer_id")
    assert plain.loc["C1", "email"] == "ada@example.com"
    assert plain.loc["C1", "phone"] == "+44 7700 900123"


def test_csv_guards_free_text_and_writes_ids_exactly(seeded):
    text = export_segments(seeded, fmt="csv", mask_pii=False).decode("utf-8")
    back = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    free = ["segment_name", "name", "top_aspects", "recommended_items"]
    for col in free:  # free text never starts a formula
        assert not back[col].str.match(r"^\s*[=+\-@]").any(), col
    row = back.set_index("customer_id")
    assert row.loc["C2", "name"] == "'" + FORMULA and row.loc["C1", "segment_name"] == "'" + FORMULA
    assert row.loc["C3", "email"] == "-cat@example.net" and row.loc["C1", "phone"] == "+44 7700 900123"
    assert row.loc["C3", "name"] == XSS  # data, not HTML: kept literally in the file
    assert row.loc["C1", "clv"] == "120.0"  # numbers untouched
    assert text.startswith('"customer_id","segment_id"') and '\r\n"C1","0"' in text  # QUOTE_ALL


def test_csv_spreadsheet_safe_guards_every_text_column(seeded):
    text = export_segments(seeded, fmt="csv", mask_pii=False, spreadsheet_safe=True).decode()
    row = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False).set_index("customer_id")
    assert row.loc["C3", "email"] == "'-cat@example.net" and row.loc["C1", "phone"] == "'+44 7700 900123"
    assert row.loc["C2", "name"] == "'" + FORMULA


def test_neutralise_formulas_leaves_numbers_and_plain_text():
    df = pd.DataFrame(
        {
            "a": ["=1+1", "@SUM(A1)", "\t@x", "plain", None, " =1", "\r=cmd|' /C calc'!A0", "\tx"],
            "n": [-1.5, 2, 3, 4, 5, 6, 7, 8],
        }
    )
    out = neutralise_formulas(df)
    got = out["a"].tolist()
    assert got[:4] + got[5:] == [
        "'=1+1",
        "'@SUM(A1)",
        "'\t@x",
        "plain",
        "' =1",
        "'\r=cmd|' /C calc'!A0",
        "\tx",
    ]
    assert pd.isna(got[4])
    assert out["n"].tolist() == [-1.5, 2, 3, 4, 5, 6, 7, 8]
    mixed = neutralise_formulas(pd.DataFrame({"b": [True, None], "c": [-1, "=x"], "e": [None, None]}))
    assert mixed["b"].tolist() == [True, None] and mixed["c"].tolist() == [-1, "'=x"]


def test_parquet_keeps_types_and_metadata(seeded, tmp_path):
    path = export_segments(seeded, fmt="parquet", path=tmp_path / "out" / "seg.parquet")
    assert path.exists() and not (tmp_path / "out" / "seg.parquet.part").exists()
    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"cx_insight"])
    assert meta["segment_run_id"] == "seg1" and meta["personal_data_masked"] is True
    assert meta["outlier_rows"] == 2 and meta["churn_methods"] == [BGNBD_METHOD]
    df = table.to_pandas()
    assert len(df) == 5 and df["is_outlier"].dtype == bool
    assert df["email"].dropna().str.contains("•••").all()


def test_segment_filter_and_bad_input(seeded):
    df = export_frame(seeded, segments=[1, -1])
    assert sorted(df["customer_id"]) == ["C3", "C4", "C5"]
    with pytest.raises(ValueError, match=r"\[7\] are not in run seg1"):
        export_frame(seeded, segments=[7])
    with pytest.raises(ValueError, match="No finished segment run"):
        export_frame(seeded, run_id="nope")
    with pytest.raises(ValueError, match="format must be"):
        export_segments(seeded, fmt="xls")


def test_no_segment_run_is_a_clear_message(ws):
    with pytest.raises(ValueError, match="run segmentation first"):
        export_segments(ws)


def test_churn_model_used_when_profiles_have_it(ws):
    seed_workspace(ws, churn_model=True)
    row = export_frame(ws).set_index("customer_id")
    assert row.loc["C1", "churn_probability"] == 0.25 and row.loc["C1", "churn_method"] == "churn model"
    assert row.loc["C1", "churn_window"].startswith("no purchase in the 90 days")
    assert row.loc["C2", "churn_method"] == BGNBD_METHOD  # no model score: says so per row
    assert pd.isna(row.loc["C2", "churn_window"])


def test_runs_and_choices_listed(seeded):
    runs = segment_runs(seeded)
    assert runs.loc[0, "run_id"] == "seg1" and runs.loc[0, "units"] == 5
    assert runs.loc[0, "segments"] == 2
    ch = segment_choices(seeded, "seg1")
    assert ch["segment_id"].tolist() == [0, 1, -1] and ch["name"].iloc[-1] == "Outliers"


def test_review_level_runs_export_reviews(ws):
    seed_workspace(ws)
    _run(ws, "seg2", "segments", "2026-02-01 10:00")
    _insert(
        ws,
        "segments",
        [
            {
                "run_id": "seg2",
                "unit_kind": "review",
                "unit_id": r,
                "segment_id": 0,
                "is_outlier": False,
                "probability": 1.0,
            }
            for r in ("R0", "r/R3", "R9")
        ],
    )
    df = export_frame(ws)  # newest run
    assert df.columns[:3].tolist() == ["review_id", "customer_id", "segment_id"]
    got = dict(zip(df["review_id"], df["customer_id"]))
    assert got["R0"] == "C1" and got["r/R3"] == "C2" and pd.isna(got["R9"])  # both id forms
    row = df.set_index("review_id").loc["R0"]  # the review itself travels with the row
    assert (row["review_text"], row["review_sentiment"], row["review_aspects"]) == (
        "late",
        "negative",
        "delivery",
    )
    assert pd.isna(df.set_index("review_id").loc["R9", "review_text"])  # unknown review id


def test_review_text_in_exports_is_masked_and_customer_runs_leave_it_out(ws):
    seed_workspace(ws)
    _insert(
        ws,
        "reviews",
        [
            {
                "dataset_id": "r",
                "review_id": "RX",
                "customer_id": None,
                "text": "mail me at ann@example.com " + XSS,
                "text_hash": "hx",
            }
        ],
    )
    _run(ws, "seg3", "segments", "2026-02-01 10:00")
    _insert(
        ws,
        "segments",
        [
            {
                "run_id": "seg3",
                "unit_kind": "review",
                "unit_id": "RX",
                "segment_id": 0,
                "is_outlier": False,
                "probability": 1.0,
            }
        ],
    )
    masked, raw = export_frame(ws), export_frame(ws, mask_pii=False)
    assert "ann@example.com" not in masked["review_text"].iat[0] and XSS in masked["review_text"].iat[0]
    assert "ann@example.com" in raw["review_text"].iat[0]
    assert "review_text" not in export_frame(ws, "seg1").columns


def test_cli_export(cfg, tmp_path, capsys):
    from cx_core.cli.main import main
    from cx_core.store.db import Workspace

    w = Workspace.open(cfg.db)
    seed_workspace(w)
    w.close()
    out = tmp_path / "crm.csv"
    assert main(["--db", cfg.db.path, "export", "--out", str(out), "--segments", "1,-1"]) == 0
    assert "personal data masked" in capsys.readouterr().out
    df = pd.read_csv(out, dtype=str)
    assert sorted(df["customer_id"]) == ["C3", "C4", "C5"]
    pq_out = tmp_path / "crm.parquet"
    assert main(["--db", cfg.db.path, "export", "--out", str(pq_out), "--no-mask"]) == 0
    assert pq.read_table(pq_out).to_pandas()["email"].str.contains("@example").sum() == 4
    assert main(["--db", cfg.db.path, "export", "--out", str(out), "--segments", "x"]) == 2
    assert main(["--db", cfg.db.path, "export", "--out", str(out), "--segments", "9"]) == 2
    assert "not in run" in capsys.readouterr().err


def test_export_carries_the_newest_recommendations(seeded):
    with seeded.write() as cur:
        cur.execute(
            "INSERT INTO runs VALUES ('rec1', 'recommend', 'k', '{}', ?, ?, 'done', '{}')",
            [datetime(2024, 1, 1), datetime(2024, 1, 1)],
        )
        for rank, item in enumerate(["A", "B", "C", "D", "E", "F"], start=1):
            cur.execute(
                "INSERT INTO recommendations VALUES ('rec1', 'C1', ?, ?, ?, 0.5, 'r', NULL, 'als')",
                [rank, item, f"=cmd {item}" if item == "A" else f"Item {item}"],
            )
    df = export_frame(seeded, top_items=3).set_index("customer_id")
    assert df.loc["C1", "recommended_items"] == "=cmd A [A]; Item B [B]; Item C [C]"
    assert pd.isna(df.loc["C2", "recommended_items"])
    out = neutralise_formulas(df.reset_index())
    assert out.set_index("customer_id").loc["C1", "recommended_items"].startswith("'=")
