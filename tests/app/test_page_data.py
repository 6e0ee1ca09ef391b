"""The Data page under AppTest: browse and mask, validate and load by path (hostile files escaped,
paths outside the allowed folders refused), the demo-store removal offer, the wrong-kind hint and the
Customers KPI."""

from __future__ import annotations

from cx_core.ingest.datasets import distinct_customers
from cx_core.ingest.load import load_file
from tests.app_fixtures import (  # noqa: F401  (app_env is a fixture)
    XSS,
    app_env,
    clear_streamlit_caches,
    load_by_path,
    new_app,
    open_page,
    page_env,
)
from tests.ingest_fixtures import orders_csv


def test_data_page_browse_and_mask(app_env):
    at = new_app()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    assert {m.label for m in at.metric} >= {"Customers", "Order lines", "Reviews"}
    customers = at.dataframe[-3].value
    assert customers["Email"].str.contains("•••").all()
    assert not {"Dataset id", "Other columns (JSON)"} & set(customers)  # behind "Show ids and details"
    shown = [d.value for d in at.dataframe]
    assert all("None" not in d.astype(str).to_numpy().ravel().tolist() for d in shown)
    orders = at.dataframe[-2].value
    assert not orders["Customer"].str.endswith(".0").any()  # ids as text, never 17850.0
    at.toggle(key="data_mask").set_value(True).run()
    assert not at.dataframe[-3].value["Email"].str.contains("•••").any()


def test_data_page_validate_and_load_hostile_file(app_env):
    f = app_env / "hostile.csv"
    f.write_text(f'review_text,"{XSS}",rating\n"{XSS} and ""; DROP TABLE orders; --",x,5\nfine product,y,4\n')
    at = new_app()
    at.switch_page("pages/data.py").run()
    at = load_by_path(at, str(f), "reviews")
    report = " ".join(s.value for s in at.success) + " ".join(w.value for w in at.warning)
    assert "2 rows would be loaded" in report
    load = next(b for b in at.button if b.label.startswith("Load 2 rows"))
    load.click().run()
    assert not at.exception, at.exception
    assert any("Loaded 2 rows" in s.value for s in at.success)
    # user strings never reach Markdown unescaped (so never become HTML)
    for el in [*at.markdown, *at.caption, *at.success, *at.warning, *at.error, *at.info]:
        assert "<img" not in el.value, el.value


def test_data_page_bad_file_shows_message(app_env):
    f = app_env / "empty.csv"
    f.write_text("")
    at = new_app()
    at.switch_page("pages/data.py").run()
    at.selectbox[0].set_value("orders").run()
    at.radio[0].set_value("Path on the server").run()
    at.text_input[0].set_value(str(f)).run()
    assert not at.exception
    assert any("empty" in e.value for e in at.error)


def test_data_page_unmapped_required_field(app_env):
    f = app_env / "x.csv"
    f.write_text("foo,bar\n1,2\n")
    at = new_app()
    at.switch_page("pages/data.py").run()
    at = load_by_path(at, str(f), "orders")
    assert any("Customer id" in e.value for e in at.error)


def test_data_page_refuses_paths_outside_allowed_dirs_with_one_message(app_env):
    secret = app_env.parent / f"{app_env.name}-outside.env"
    secret.write_text("DB_PASSWORD=hunter2\n")
    (app_env / "innocent.csv").symlink_to(secret)
    attempts = [
        str(secret),
        "/etc/passwd",
        "/etc/shadow",
        "innocent.csv",
        "../" + secret.name,
        str(app_env / "missing.csv"),
        str(app_env),
        "/nonexistent/x.csv",
    ]
    at = new_app()
    at.switch_page("pages/data.py").run()
    at.radio[0].set_value("Path on the server").run()
    messages = set()
    for attempt in attempts:
        at.text_input[0].set_value(attempt).run()
        assert not at.exception, at.exception
        assert not at.dataframe or all("hunter2" not in str(d.value) for d in at.dataframe)
        errors = [e.value for e in at.error]
        assert len(errors) == 1, (attempt, errors)
        messages.add(errors[0])
    assert len(messages) == 1 and "ingest.allowed_dirs" in messages.pop().replace("\\", "")


def test_data_page_offers_uploads_only_without_allowed_dirs(app_env, monkeypatch):
    monkeypatch.setenv("CX_INGEST_ALLOWED_DIRS", "")
    at = new_app()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    assert list(at.radio[0].options) == ["Upload a file"]
    assert not at.text_input


def test_data_page_offers_to_remove_demo_next_to_own_data(tmp_path, monkeypatch):
    """Own data loaded next to the auto-loaded demo store: the Data page says so and removes it."""
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
        f = tmp_path / "mine.csv"
        f.write_text("review_text,rating\ngreat fit,5\ntoo small,2\n")
        at = new_app()
        at.switch_page("pages/data.py").run()
        assert not any("demo store is still loaded" in w.value for w in at.warning)
        at = load_by_path(at, str(f), "reviews")
        next(b for b in at.button if b.label.startswith("Load 2 rows")).click().run()
        assert any("demo store is still loaded" in w.value for w in at.warning)
        at.button(key="remove_demo").click().run()
        assert not at.exception, at.exception
        assert any("Removed the demo store (3 datasets)" in s.value for s in at.success)
        assert not any("demo store is still loaded" in w.value for w in at.warning)
        assert [m.value for m in at.metric if m.label == "Reviews"] == ["2"]
    finally:
        clear_streamlit_caches()


def test_data_page_hints_at_the_right_kind(tmp_path, monkeypatch):
    page_env(tmp_path, monkeypatch)
    monkeypatch.setenv("CX_DEMO_CUSTOMERS", "200")
    f = orders_csv(tmp_path / "retail.csv")
    at = load_by_path(open_page("pages/data.py"), str(f), "reviews")
    assert any(
        "This looks like an orders file" in w.value and "choose 'Orders'" in w.value for w in at.warning
    )
    assert any("looks like an orders file" in e.value for e in at.error)


def test_customers_kpi_counts_ids_across_tables(tmp_path, monkeypatch, cfg, ws):
    c = tmp_path / "c.csv"
    c.write_text("customer_id,name\nc1,Ann\nc2,Bo\n")
    load_file(ws, c, "customers")
    load_file(ws, orders_csv(tmp_path / "o.csv"), "orders")  # c1 again and a new c9
    r = tmp_path / "r.csv"
    r.write_text("customer_id,text\nc7,nice\n,anonymous\n")
    load_file(ws, r, "reviews")
    assert distinct_customers(ws) == 4
    page_env(tmp_path, monkeypatch)
    at = open_page("pages/data.py")
    kpi = next(m for m in at.metric if m.label == "Customers")
    assert kpi.value == "4"
    assert "across customers, orders and reviews" in kpi.help
