"""Data: upload or point to a file, map its columns, validate, load; browse and delete datasets."""

from __future__ import annotations

import streamlit as st

from cx_core.ingest.bootstrap import load_demo, mixed_with_demo, remove_demo
from cx_core.ingest.datasets import distinct_customers, list_datasets, sample_rows, summarize
from cx_core.ingest.load import delete_dataset, load_file, peek_file
from cx_core.ingest.mapping import KINDS, fields_for, kind_hint, suggest_mapping
from cx_core.ingest.pii import detect_pii, mask_frame
from cx_core.ingest.server_paths import check_server_path, server_paths_enabled
from cx_core.ingest.uploads import save_upload
from pages._ui import get_config, get_workspace, mask_pii_toggle, md, user_errors

NOT_MAPPED = "— not in this file —"
FILE_TYPES = ["csv", "tsv", "txt", "gz", "parquet", "json", "jsonl", "ndjson"]

st.title("Data")
cfg = get_config()
ws = get_workspace()


def _progress_bar():
    bar = st.progress(0.0, text="Starting")
    return bar, (lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))


def _choose_source() -> tuple[str | None, str | None]:
    """The file to load: an upload (saved to disk first) or, where allowed, a path on the server."""
    sources = ["Upload a file"]
    if server_paths_enabled(cfg.ingest.allowed_dirs):
        sources.append("Path on the server")
    how = st.radio("Source", sources, horizontal=True,
                   help="Browser uploads are held in memory by Streamlit; for multi-GB files "
                        "give a path inside a folder your administrator allowed.")
    if how == "Upload a file":
        up = st.file_uploader("File (CSV, TSV, CSV.gz, Parquet, JSON lines)", type=FILE_TYPES)
        if up is None:
            return None, None
        key = f"_cx_upload_{up.file_id}"
        if key not in st.session_state:
            st.session_state[key] = str(save_upload(up, up.name, cfg.ingest.upload_dir))
        return st.session_state[key], up.name
    path = st.text_input("Path to a file on the server", placeholder="orders.csv.gz",
                         help="Relative paths start in the first allowed folder.")
    if not path.strip():
        return None, None
    with user_errors():
        return str(check_server_path(path, cfg.ingest.allowed_dirs)), None
    return None, None


def _mapping_form(kind: str, columns: list[str]) -> dict[str, str | None] | None:
    """Selectboxes pre-filled with the suggested mapping; returns it when submitted."""
    suggested = suggest_mapping(kind, columns)
    options = [NOT_MAPPED, *columns]
    with st.form(f"map_{kind}"):
        st.markdown("**Map your columns to ours** (required fields are marked *)")
        grid = st.columns(3)
        chosen: dict[str, str | None] = {}
        for i, spec in enumerate(fields_for(kind)):
            default = suggested.get(spec.name)
            label = spec.label + (" *" if spec.required else "")
            pick = grid[i % 3].selectbox(label, options, help=spec.help or None,
                                         index=options.index(default) if default else 0,
                                         key=f"map_{kind}_{spec.name}")
            chosen[spec.name] = None if pick == NOT_MAPPED else pick
        submitted = st.form_submit_button("Validate", type="primary")
    return chosen if submitted else None


def _show_report(report) -> None:
    lines = report.summary_lines()
    (st.warning if report.rejected or report.malformed_lines else st.success)(
        "\n".join(f"- {md(line)}" for line in lines))
    if report.reject_examples:
        with st.expander("Examples of rejected rows"):
            for why, examples in report.reject_examples.items():
                st.markdown(f"**{md(why)}**")
                st.text("\n".join(examples))


def _load_section() -> None:
    st.subheader("Load a file")
    if "_cx_loaded" in st.session_state:
        st.success(st.session_state.pop("_cx_loaded"))
    kind = st.selectbox("What does the file hold?", KINDS, format_func=str.capitalize)
    path, name = _choose_source()
    if not path:
        return
    with user_errors():
        src, columns, head = peek_file(ws, path, name)
        st.caption(f"{md(src.name)} · {src.fmt.upper()} · {src.encoding} · {src.size / 1e6:,.1f} MB · "
                   f"{len(columns)} columns")
        st.dataframe(mask_frame(head, detect_pii(head)), hide_index=True)
        hint = kind_hint(kind, columns)
        if hint:
            st.warning(md(hint))
        mapping = _mapping_form(kind, columns)
        if mapping is not None:
            bar, progress = _progress_bar()
            report = load_file(ws, src.path, kind, mapping, name=src.name, dry_run=True,
                               progress=progress)
            bar.empty()
            st.session_state["_cx_pending"] = (src.path, src.name, kind, mapping, report)
    pending = st.session_state.get("_cx_pending")
    if pending and pending[0] == path and pending[2] == kind:
        _confirm_load(*pending)


def _confirm_load(path: str, name: str, kind: str, mapping: dict, report) -> None:
    st.markdown("**Validation report**")
    _show_report(report)
    if report.already_loaded or report.rows_loaded == 0:
        return
    same_kind = list_datasets(ws).query("kind == @kind")
    replace = st.selectbox("Replace an existing dataset?", ["No, add as a new dataset",
                                                            *same_kind["dataset_id"].tolist()],
                           format_func=lambda d: d if d.startswith("No") else
                           f"{d} ({same_kind.set_index('dataset_id').loc[d, 'source_name']})")
    if st.button(f"Load {report.rows_loaded:,} rows", type="primary"):
        with user_errors():
            bar, progress = _progress_bar()
            done = load_file(ws, path, kind, mapping, name=name, progress=progress,
                             replace_dataset=None if replace.startswith("No") else replace)
            bar.empty()
            st.session_state.pop("_cx_pending", None)
            st.session_state["_cx_loaded"] = f"Loaded {done.rows_loaded:,} rows as dataset {done.dataset_id}."
            st.rerun()


def _kpis() -> None:
    """Customers (distinct ids over all tables), order lines and reviews, with date ranges."""
    summary = summarize(ws)
    for col, kind in zip(st.columns(3), KINDS):
        s = summary[kind]
        if kind == "customers":
            col.metric("Customers", f"{distinct_customers(ws):,}",
                       help=f"Distinct customer ids across customers, orders and reviews; "
                            f"{s.rows:,} rows in customer files.")
        else:
            col.metric({"orders": "Order lines"}.get(kind, kind.capitalize()), f"{s.rows:,}")
        if s.date_min:
            col.caption(f"{s.date_min} → {s.date_max}")


def _browse_section() -> None:
    st.subheader("Loaded data")
    _kpis()
    datasets = list_datasets(ws)
    if datasets.empty:
        st.info("Nothing loaded yet.")
        if st.button("Load the demo store"):
            with user_errors():
                bar, progress = _progress_bar()
                load_demo(ws, cfg, progress)
                bar.empty()
                st.rerun()
        return
    _demo_notice()
    st.dataframe(datasets, hide_index=True)
    _delete_control(datasets)
    mask = mask_pii_toggle("data_mask")
    tabs = st.tabs([k.capitalize() for k in KINDS])
    for tab, kind in zip(tabs, KINDS):
        with tab:
            st.dataframe(sample_rows(ws, kind, cfg.ui.sample_rows, mask=mask), hide_index=True)


def _demo_notice() -> None:
    """Your data next to the demo store: every page would mix them, so offer to remove it."""
    if not mixed_with_demo(ws):
        return
    st.warning("The demo store is still loaded next to your data, so every page (customers, "
               "segments, models, recommendations) mixes the two. Remove it to analyse only your data.")
    if st.button("Remove the demo store", key="remove_demo"):
        with user_errors():
            n = remove_demo(ws)
            st.session_state["_cx_loaded"] = f"Removed the demo store ({n} datasets)."
            st.rerun()


def _delete_control(datasets) -> None:
    with st.expander("Delete a dataset"):
        target = st.selectbox("Dataset", datasets["dataset_id"].tolist(), key="del_target")
        sure = st.checkbox("Yes, delete it and its rows", key="del_sure")
        if st.button("Delete", disabled=not sure):
            with user_errors():
                delete_dataset(ws, target)
                st.success(f"Deleted {target}.")
                st.rerun()


_load_section()
st.divider()
_browse_section()
