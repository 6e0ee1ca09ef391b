"""The README documents every setting and every table; pages stay thin; cx_core stays headless."""

import re

from cx_core.config import SETTINGS_DOC, env_name
from cx_core.store.schema import TABLES
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_every_setting_in_readme():
    missing = [
        k
        for k in SETTINGS_DOC
        if f"| {k} |" not in README or env_name(k) not in README and k not in ("db.path", "model.model_dir")
    ]
    assert not missing, missing


def test_every_table_in_readme():
    assert not [t for t in TABLES if f"`{t}`" not in README]


def test_cx_core_never_imports_streamlit():
    offenders = [
        p.name
        for p in (ROOT / "cx_core").rglob("*.py")
        if re.search(r"^\s*(import|from)\s+streamlit\b", p.read_text(), re.M)
    ]
    assert not offenders


def test_pages_do_not_import_heavy_libraries_or_sql():
    heavy = re.compile(r"^\s*(import|from)\s+(torch|duckdb|umap|hdbscan|captum|transformers)\b", re.M)
    sql = re.compile(r"\b(SELECT|INSERT|DELETE|CREATE TABLE)\b")
    for p in [ROOT / "app.py", *(ROOT / "pages").glob("*.py")]:
        text = p.read_text()
        assert not heavy.search(text), p.name
        assert not sql.search(text), p.name


def test_readme_two_commands_and_ci():
    assert "streamlit run app.py" in README and "python -m pytest" in README
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = re.search(
        r"pip install -r requirements.txt && bash tests/e2e/install_browser.sh && "
        r"python -m pytest -q",
        README,
    )
    assert test_cmd and test_cmd.group(0) in ci
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text()
