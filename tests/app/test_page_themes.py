"""The Themes page under AppTest: discover with a planted encoder, escaped cards, promotion, the empty
state."""

from __future__ import annotations

import json
import re
from datetime import datetime

from streamlit.testing.v1 import AppTest

import cx_core.themes.run as themes_mod
from cx_core.reviews.taxonomy import load_taxonomy
from tests.app.test_page_export import export_env  # noqa: F401  (fixture: empty workspace)
from tests.app_fixtures import clear_streamlit_caches, new_app
from tests.conftest import ROOT
from tests.themes.test_themes import XSS, insert_reviews, planted_corpus


def open_themes() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/themes.py").run()
    assert not at.exception, at.exception
    return at


RAW_TAG = re.compile(r"(?<!\\)<img")  # an unescaped tag (md_escape writes a backslash first)


def rendered(at: AppTest) -> list[str]:
    """Markdown the page rendered, expander labels and metric labels included."""
    out = [el.value for el in [*at.markdown, *at.caption, *at.info, *at.error, *at.warning, *at.success]]
    return out + [e.label for e in at.expander] + [m.label for m in at.metric]


def test_discover_show_and_promote(export_env, monkeypatch):  # noqa: F811
    texts, _, enc = planted_corpus()
    hostile = XSS + " parcel courier late tracking"
    import numpy as np

    centre = np.mean([enc.vectors[t] for t in texts if t.startswith("review 0-")], axis=0)
    enc.vectors[hostile] = centre  # nearest the centroid: a representative review
    insert_reviews(export_env, texts + [hostile])
    export_env.close()
    monkeypatch.setattr(themes_mod, "make_encoder", lambda model=None: enc)
    at = open_themes()
    assert any("No themes yet" in i.value for i in at.info)
    at.button(key="FormSubmitter:themes_run-Discover themes").click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Themes"] == "3" and metrics["New (not in taxonomy)"] == "1"
    assert at.dataframe[0].value["Size"].sum() == len(texts) + 1
    assert len(at.expander) >= 4  # the run form + one card per theme
    for text in rendered(at):
        assert not RAW_TAG.search(text), text
    assert any("img src" in t for t in rendered(at))  # the hostile review is shown, escaped
    pick = at.selectbox(key="themes_promote_pick")
    assert at.text_input(
        key=f"themes_promote_name_{at.selectbox(key='themes_run').value}_{pick.value}"
    ).value  # a suggested name
    name_box = at.text_input[-1]
    name_box.set_value(XSS).run()
    at.button(key="themes_promote").click().run()
    assert any("aspect name" in e.value for e in at.error)
    for text in rendered(at):
        assert not RAW_TAG.search(text), text
    at.text_input[-1].set_value("eco").run()
    at.button(key="themes_promote").click().run()
    assert not at.exception, at.exception
    assert any("Added aspect" in s.value for s in at.success)
    assert at.dataframe[0].value["Added as aspect"].replace("", None).dropna().tolist() == ["eco"]
    assert "eco" in load_taxonomy_of_app()


def load_taxonomy_of_app() -> dict:
    """The taxonomy in the workspace the app is using."""
    from pages._ui import _open_workspace, get_config

    return load_taxonomy(_open_workspace(get_config().db.path))


def test_hostile_theme_names_render_escaped(export_env):  # noqa: F811
    ws = export_env
    now = datetime.now()
    reps = json.dumps([{"dataset_id": "d", "review_id": "r1", "text": XSS + " ada@example.com"}])
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO runs VALUES ('run_x', 'themes', 'k', '{}', ?, ?, 'done', ?)",
            [
                now,
                now,
                json.dumps({"n_themes": 1, "n_new_themes": 1, "n_reviews": 40, "outlier_share": 0.25}),
            ],
        )
        cur.execute(
            "INSERT INTO themes (run_id, theme_id, name, keywords_json, size, share, "
            "representative_json, overlap_json) VALUES ('run_x', 0, ?, ?, 30, 0.75, ?, "
            "'{}'), ('run_x', -1, 'Outliers', '[]', 10, 0.25, '[]', '{}')",
            [XSS, json.dumps([[XSS, 0.5]]), reps],
        )
    ws.close()
    at = open_themes()
    assert {m.label: m.value for m in at.metric}["Outlier share"] == "25%"
    texts = rendered(at)
    assert not [t for t in texts if RAW_TAG.search(t)]
    assert any("onerror" in t for t in texts)
    assert not any("ada@example.com" in t for t in texts)  # masked by default
    at.toggle(key="themes_mask").set_value(True).run()
    assert any("ada@example" in t for t in rendered(at))


def test_themes_empty_state_opens_the_run_form(tmp_path, monkeypatch):
    """No theme run yet: the 'Find themes' expander is open, so 'Discover themes' is visible."""
    for k, v in {
        "CX_DB_PATH": tmp_path / "ws.duckdb",
        "CX_DEMO_DIR": tmp_path / "demo",
        "CX_INGEST_UPLOAD_DIR": tmp_path / "uploads",
        "CX_INGEST_ALLOWED_DIRS": tmp_path,
        "CX_DEMO_CUSTOMERS": 200,
    }.items():
        monkeypatch.setenv(k, str(v))
    clear_streamlit_caches()
    try:
        at = new_app()
        at.switch_page("pages/themes.py").run()
        assert not at.exception, at.exception
        assert any("No themes yet" in i.value for i in at.info)
        finder = next(e for e in at.expander if e.label == "Find themes")
        assert finder.proto.expanded
    finally:
        clear_streamlit_caches()
