"""The aspect taxonomy, its seeds as readable phrases, and schema upgrades of older workspaces."""

import pytest

from cx_core.reviews.taxonomy import (
    DEFAULT_TAXONOMY,
    TaxonomyError,
    add_aspect,
    load_taxonomy,
    remove_aspect,
    reset_taxonomy,
    taxonomy_frame,
)
from cx_core.store.db import Workspace

XSS = "<img src=x onerror=alert(1)>"


def test_defaults_then_edit(ws):
    tax = load_taxonomy(ws)
    assert set(tax) == set(DEFAULT_TAXONOMY)
    assert (
        add_aspect(ws, "  Sustainability ", ["Eco friendly", "recycled", "eco friendly"]) == "sustainability"
    )
    assert load_taxonomy(ws)["sustainability"] == ["eco friendly", "recycled"]
    assert remove_aspect(ws, "price") and "price" not in load_taxonomy(ws)
    reset_taxonomy(ws)
    assert set(load_taxonomy(ws)) == set(DEFAULT_TAXONOMY)


@pytest.mark.parametrize("name,seeds", [("<img src=x onerror=alert(1)>", ["x"]), ("ok", []), ("", ["a"])])
def test_bad_aspects_refused(ws, name, seeds):
    with pytest.raises(TaxonomyError):
        add_aspect(ws, name, seeds)


def test_old_workspace_gains_new_columns(cfg):
    import duckdb

    con = duckdb.connect(cfg.db.path)
    con.execute(
        "CREATE TABLE segment_info (run_id VARCHAR NOT NULL, segment_id INTEGER NOT NULL, "
        "name VARCHAR NOT NULL, size BIGINT NOT NULL)"
    )
    con.execute("INSERT INTO segment_info VALUES ('r', 1, 'kept', 3)")
    con.close()
    w = Workspace.open(cfg.db)
    try:
        row = w.query_df("SELECT * FROM segment_info")
        assert row.loc[0, "name"] == "kept" and "mean_clv" in row.columns
    finally:
        w.close()


def test_taxonomy_seeds_are_readable_phrases_and_round_trip(ws):
    add_aspect(ws, "hardware", ["zipper", "Buckle ", XSS])
    seeds = taxonomy_frame(ws).set_index("aspect").loc["hardware", "seeds"]
    assert seeds == f"zipper, buckle, {XSS}"
    add_aspect(ws, "hardware", (seeds + ", strap").split(","))  # what the editor does
    assert taxonomy_frame(ws).set_index("aspect").loc["hardware", "seeds"] == f"zipper, buckle, {XSS}, strap"
    assert not taxonomy_frame(ws)["seeds"].str.contains(r"[\[\]\"]").any()
