"""What loading says about a file that cannot be what it was loaded as: headers without rows, a file
that looks like another kind."""

from __future__ import annotations

import pytest

from cx_core.ingest.load import MappingError, load_file
from tests.ingest_fixtures import orders_csv


def test_headers_only_file_says_so(ws, tmp_path):
    p = tmp_path / "headers.csv"
    p.write_text("id,Review Text,Rating\n")
    rep = load_file(ws, p, "reviews", dry_run=True)
    assert rep.rows_read == 0 and rep.rows_loaded == 0
    assert any("has column headers but no data rows" in w for w in rep.warnings), rep.warnings


def test_load_file_says_what_the_file_looks_like(ws, tmp_path):
    f = orders_csv(tmp_path / "retail.csv")
    with pytest.raises(MappingError) as err:
        load_file(ws, f, "reviews")
    assert "Required field 'Review text' is not mapped" in str(err.value)
    assert any("looks like an orders file" in p for p in err.value.problems)
    rep = load_file(ws, f, "customers", dry_run=True)  # loads, but says so
    assert any("choose 'Orders'" in w for w in rep.warnings)
