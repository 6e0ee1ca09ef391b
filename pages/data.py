"""Data: upload or point to a file, map its columns, validate, load; browse and delete datasets."""

from __future__ import annotations

import streamlit as st

from cx_core.ingest.bootstrap import load_demo, mixed_with_demo, remove_demo
from cx_core.ingest.datasets import distinct_customers, list_datasets, sample_rows, summarize
from cx_core.ingest.excel import list_sheets
from cx_core.ingest.joins import reviewer_match
from cx_core.ingest.load import delete_dataset, load_file, peek_file
from cx_core.ingest.mapping import KINDS, fields_for, kind_hint, suggest_mapping
from cx_core.ingest.options import options_from_config
from cx_core.ingest.pii import detect_pii, mask_frame
from cx_core.ingest.server_paths import check_server_path, server_paths_enabled
from cx_core.ingest.uploads import (
    discard_upload,
    new_session_token,
    save_upload,
    session_upload_dir,
    upload_refusal,
)
from cx_core.insight.export_files import audit_csv
from cx_core.scale.imports import check_run_dir, import_message, run_summary
from cx_core.scale.manifest import read_manifest
from cx_core.scale.store import import_run
from cx_core.store.audit import audit_log
from pages._run import progress_block
from pages._ui import (
    allowed,
    audit_workspace,
    currency_picker,
    current_actor,
    get_config,
    get_workspace,
    mask_pii_toggle,
    md,
    show_table,
    user_errors,
)

NOT_MAPPED = "— not in this file —"
DECIMALS = {"auto": "Detect per column", "point": "Point: 1,234.50", "comma": "Comma: 1.234,50"}
DUPLICATES = {"auto": "Decide from the file", "keep": "Keep them", "drop": "Drop them"}

st.title("Data")
cfg = get_config()
ws = get_workspace()


def _max_expanded() -> int:
    return int(cfg.ingest.max_expanded_gb * 1e9)


def _upload_folder() -> str:
    """This session's private upload folder (deleted at sign-out or when stale)."""
    token = st.session_state.setdefault("_cx_upload_token", new_session_token())
    return str(session_upload_dir(cfg.ingest.upload_dir, token))


def _choose_source() -> tuple[str | None, str | None]:
    """The file to load: an upload (saved to disk first) or, where allowed, a path on the server."""
    sources = ["Upload a file"]
    if server_paths_enabled(cfg.ingest.allowed_dirs):
        sources.append("Path on the server")
    how = st.radio(
        "Source",
        sources,
        horizontal=True,
        help="Browser uploads are held in memory by Streamlit; for multi-GB files "
        "give a path inside a folder your administrator allowed.",
    )
    if how == "Upload a file":
        # no type= filter: Streamlit would hide the reason for a refusal in a tooltip
        up = st.file_uploader("File (CSV, TSV, CSV.gz, Excel .xlsx, Parquet, JSON lines)")
        if up is None:
            return None, None
        refusal = upload_refusal(up.name)
        if refusal:
            st.error(md(refusal))
            return None, None
        key = f"_cx_upload_{up.file_id}"
        if key not in st.session_state:
            st.session_state[key] = str(save_upload(up, up.name, _upload_folder()))
        if st.session_state[key] is None:  # loaded, and its saved copy deleted
            st.caption("This upload is loaded. Remove it from the box above to load another file.")
            return None, None
        return st.session_state[key], up.name
    path = st.text_input(
        "Path to a file on the server",
        placeholder="orders.csv.gz",
        help="Relative paths start in the first allowed folder.",
    )
    if not path.strip():
        return None, None
    with user_errors():
        return str(check_server_path(path, cfg.ingest.allowed_dirs)), None
    return None, None


def _mapping_form(kind: str, columns: list[str], head) -> tuple[dict[str, str | None], dict] | None:
    """Selectboxes pre-filled with the suggested mapping, plus the reading choices (decimal
    separator; for orders, repeated lines); returns ``(mapping, choices)`` when submitted."""
    suggested = suggest_mapping(kind, columns, head)
    options = [NOT_MAPPED, *columns]
    with st.form(f"map_{kind}"):
        st.markdown("**Map your columns to ours** (required fields are marked *)")
        grid = st.columns(3)
        chosen: dict[str, str | None] = {}
        for i, spec in enumerate(fields_for(kind)):
            default = suggested.get(spec.name)
            label = spec.label + (" *" if spec.required else "")
            pick = grid[i % 3].selectbox(
                label,
                options,
                help=spec.help or None,
                index=options.index(default) if default else 0,
                key=f"map_{kind}_{spec.name}",
            )
            chosen[spec.name] = None if pick == NOT_MAPPED else pick
        choices = _reading_choices(kind)
        submitted = st.form_submit_button("Validate", type="primary")
    return (chosen, choices) if submitted else None


def _reading_choices(kind: str) -> dict:
    """Decimal separator and (orders) what to do with lines that repeat another line exactly."""
    left, right = st.columns(2)
    choices = {
        "decimal": left.selectbox(
            "Decimal separator",
            list(DECIMALS),
            format_func=DECIMALS.get,
            key=f"dec_{kind}",
            help="Detected per column from the values (2,55 → 2.55; 1.234,50 → 1234.5). A column "
            "that could be read both ways is not guessed: the report asks you to choose here.",
        )
    }
    if kind == "orders":
        choices["duplicates"] = right.selectbox(
            "Lines repeating another line exactly",
            list(DUPLICATES),
            format_func=DUPLICATES.get,
            key="dups_orders",
            help="Decide from the file: kept when the file has a line-number "
            "column or no quantity column (one row per unit sold), dropped "
            "otherwise. The report counts them and the amount they carry.",
        )
    return choices


def _sheet_choice(path: str, name: str | None) -> str | None:
    """For an Excel workbook with several sheets, the sheet to load."""
    if not str(name or path).lower().endswith((".xlsx", ".xlsm")):
        return None
    sheets = list_sheets(path, name)
    if len(sheets) < 2:
        return None
    return st.selectbox("Sheet", sheets, help="The workbook has several sheets; pick the one to load.")


def _show_report(report) -> None:
    lines = report.summary_lines()
    (st.warning if report.rejected or report.malformed_lines else st.success)(
        "\n".join(f"- {md(line)}" for line in lines)
    )
    if report.reject_examples:
        with st.expander("Examples (rejected rows, duplicates)"):
            for why, examples in report.reject_examples.items():
                st.markdown(f"**{md(why)}**")
                st.text("\n".join(examples))


def _load_section() -> None:
    st.subheader("Load a file")
    if not allowed("load"):
        st.info(
            f"Your role ({md(current_actor().role)}) can browse results and download masked "
            "exports; loading data needs the analyst role."
        )
        return
    if "_cx_loaded" in st.session_state:
        st.success(st.session_state.pop("_cx_loaded"))
    kind = st.selectbox("What does the file hold?", KINDS, format_func=str.capitalize)
    path, name = _choose_source()
    if not path:
        return
    with user_errors():
        sheet = _sheet_choice(path, name)
        src, columns, head = peek_file(ws, path, name, n=200, max_expanded_bytes=_max_expanded(), sheet=sheet)
        st.caption(
            f"{md(src.name)} · {src.fmt.upper()} · {src.encoding} · {src.size / 1e6:,.1f} MB · "
            f"{len(columns)} columns"
        )
        st.dataframe(mask_frame(head.head(20), detect_pii(head)), hide_index=True)
        hint = kind_hint(kind, columns)
        if hint:
            st.warning(md(hint))
        form = _mapping_form(kind, columns, head)
        if form is not None:
            mapping, choices = form
            opts = options_from_config(cfg.ingest, sheet=sheet, **choices)
            with progress_block() as progress:
                report = load_file(
                    ws,
                    src.path,
                    kind,
                    mapping,
                    name=src.name,
                    dry_run=True,
                    progress=progress,
                    max_expanded_bytes=_max_expanded(),
                    options=opts,
                )
            st.session_state["_cx_pending"] = (src.path, src.name, kind, mapping, report, opts)
    pending = st.session_state.get("_cx_pending")
    if pending and pending[0] == path and pending[2] == kind:
        _confirm_load(*pending)


def _confirm_load(path: str, name: str, kind: str, mapping: dict, report, opts) -> None:
    st.markdown("**Validation report**")
    _show_report(report)
    if report.already_loaded or report.rows_loaded == 0:
        return
    same_kind = list_datasets(ws).query("kind == @kind")
    replace = st.selectbox(
        "Replace an existing dataset?",
        ["No, add as a new dataset", *same_kind["dataset_id"].tolist()],
        format_func=lambda d: (
            d if d.startswith("No") else f"{d} ({same_kind.set_index('dataset_id').loc[d, 'source_name']})"
        ),
    )
    if st.button(f"Load {report.rows_loaded:,} rows", type="primary"):
        with user_errors():
            with progress_block() as progress:
                done = load_file(
                    ws,
                    path,
                    kind,
                    mapping,
                    name=name,
                    progress=progress,
                    replace_dataset=None if replace.startswith("No") else replace,
                    actor=current_actor(),
                    max_expanded_bytes=_max_expanded(),
                    options=opts,
                )
            st.session_state.pop("_cx_pending", None)
            _forget_upload(path)
            st.session_state["_cx_loaded"] = (
                f"Loaded {done.rows_loaded:,} rows from {md(name or 'the file')}."
            )
            st.rerun()


def _import_run_section() -> None:
    """Administrators (everyone in single-user local mode), where server paths are allowed: load a
    finished cluster run (``python -m cx_core scale ...``) from a folder inside ingest.allowed_dirs."""
    if not allowed("manage_users") or not server_paths_enabled(cfg.ingest.allowed_dirs):
        return
    typed = bool(st.session_state.get("scale_run_dir"))  # stay open over the reruns a path causes
    with st.expander("Import a cluster run", icon=":material/hub:", expanded=typed):
        st.caption(
            "A folder written by `python -m cx_core scale embed|profile|segment` (its manifest.json "
            "and shards/), inside the folders your administrator allowed. It is loaded in one step."
        )
        raw = st.text_input("Run folder on the server", key="scale_run_dir", placeholder="runs/2026-12-01")
        if not raw.strip():
            return
        with user_errors():
            folder = check_run_dir(raw, cfg.ingest.allowed_dirs)
            manifest = read_manifest(folder)
            st.markdown("\n".join(f"- {md(line)}" for line in run_summary(manifest)))
            if st.button("Import", key="scale_import", type="primary"):
                with progress_block("Importing") as progress:
                    res = import_run(ws, folder, progress)
                st.success(md(import_message(res)))


def _forget_upload(path: str) -> None:
    """Delete a loaded upload's saved copy; the uploader keeps showing it as loaded."""
    for key, value in list(st.session_state.items()):
        if str(key).startswith("_cx_upload_") and key != "_cx_upload_token" and value == path:
            discard_upload(path)
            st.session_state[key] = None


def _kpis() -> None:
    """Customers (distinct ids over all tables), order lines and reviews, with date ranges."""
    summary = summarize(ws)
    for col, kind in zip(st.columns(3), KINDS):
        s = summary[kind]
        if kind == "customers":
            col.metric(
                "Customers",
                f"{distinct_customers(ws):,}",
                help=f"Distinct customer ids across customers, orders and reviews; "
                f"{s.rows:,} rows in customer files.",
            )
        else:
            col.metric({"orders": "Order lines"}.get(kind, kind.capitalize()), f"{s.rows:,}")
        if s.date_min:
            col.caption(f"{s.date_min} → {s.date_max}")
    joins = reviewer_match(ws)
    if joins:
        (st.warning if joins.startswith("0 of") else st.caption)(md(joins))


def _browse_section() -> None:
    st.subheader("Loaded data")
    _kpis()
    currency_picker()
    datasets = list_datasets(ws)
    if datasets.empty:
        st.info("Nothing loaded yet.")
        if allowed("load") and st.button("Load the demo store"):
            with user_errors():
                with progress_block() as progress:
                    load_demo(ws, cfg, progress)
                st.rerun()
        return
    _demo_notice()
    show_table(datasets, "datasets_table", text_first=False)
    if allowed("delete"):
        _delete_control(datasets)
    mask = mask_pii_toggle("data_mask")
    tabs = st.tabs([k.capitalize() for k in KINDS])
    for tab, kind in zip(tabs, KINDS):
        with tab:
            show_table(sample_rows(ws, kind, cfg.ui.sample_rows, mask=mask), f"sample_{kind}")


def _demo_notice() -> None:
    """Your data next to the demo store: every page would mix them, so offer to remove it."""
    if not mixed_with_demo(ws) or not allowed("delete"):
        return
    st.warning(
        "The demo store is still loaded next to your data, so every page (customers, "
        "segments, models, recommendations) mixes the two. Remove it to analyse only your data."
    )
    if st.button("Remove the demo store", key="remove_demo"):
        with user_errors():
            n = remove_demo(ws)
            st.session_state["_cx_loaded"] = f"Removed the demo store ({n} datasets)."
            st.rerun()


def _delete_control(datasets) -> None:
    with st.expander("Delete a dataset"):
        names = {
            r.dataset_id: f"{r.source_name or 'unnamed'} ({r.kind}, {int(r.rows):,} rows)"
            for r in datasets.itertuples()
        }
        target = st.selectbox("Dataset", list(names), format_func=names.get, key="del_target")
        sure = st.checkbox("Yes, delete it and its rows", key="del_sure")
        if st.button("Delete", disabled=not sure):
            with user_errors():
                delete_dataset(ws, target, actor=current_actor())
                st.success(f"Deleted {md(names[target])}.")
                st.rerun()


def _audit_section():
    """Administrators: a collapsed expander at the top, filled at the end of the run so that it
    shows what this very run recorded too (a reveal, a load, a deletion)."""
    if not allowed("manage_users"):
        return None
    return st.expander("Audit log (administrators)", icon=":material/policy:")


def _audit_table() -> None:
    log = audit_log(audit_workspace(), limit=200)
    st.caption(
        "Who did what and when: sign-ins, loads, deletions, exports (rows, masking), "
        "personal-data reveals, reports. The newest 200 rows; the download has all."
    )
    st.dataframe(log, hide_index=True)
    st.download_button(
        "Download the audit log (CSV)",
        audit_csv(audit_workspace()),
        file_name="cx_audit_log.csv",
        mime="text/csv",
        key="audit_download",
        on_click="ignore",
    )


audit_box = _audit_section()
_load_section()
_import_run_section()
st.divider()
_browse_section()
if audit_box is not None:
    with audit_box:
        _audit_table()
