"""Themes: open topics in review text that the aspect taxonomy does not name yet; promote them."""

from __future__ import annotations

import streamlit as st

from cx_core.ingest.datasets import dataset_version
from cx_core.ingest.pii import mask_text
from cx_core.ingest.pii_scrub import mask_generated_frame
from cx_core.reviews.taxonomy import current_starter
from cx_core.themes import run as th
from pages._run import missing_note, run_stage, running_notice
from pages._ui import get_config, get_workspace, how_computed, mask_pii_toggle, md, show_table, user_errors

MAX_CARDS = 30

st.title("Themes")
running_notice("themes")
st.caption(
    "Topics your customers write about, found in the review text itself and named by their most "
    "distinctive words. A theme most of whose reviews mention an aspect you already track is "
    "marked as covered; the others are new: candidates for your aspect list."
)
HOW = (
    "Review texts are embedded with MiniLM, reduced with UMAP and clustered with HDBSCAN; "
    "distinctive words (c-TF-IDF) name each theme. A theme is covered by an aspect when most "
    "of its reviews mention that aspect's seed phrases."
)
#: above this share of new themes the aspect list does not fit the reviews: say so
MOSTLY_NEW = 0.5
PROMOTE_TOP = 5
cfg = get_config()
ws = get_workspace()


@st.cache_resource(show_spinner=False)
def _encoder():
    """One text encoder per app process (the model loads once)."""
    return th.make_encoder(get_config().model)


@st.cache_data(show_spinner=False)
def _themes(run_id: str, version: int):
    return th.load_themes(ws, run_id)


def _run_form() -> None:
    base = th.ThemeSettings.from_config(cfg)
    with st.form("themes_run"):
        c1, c2, c3 = st.columns(3)
        size = c1.number_input("Smallest theme (reviews, 0 = auto)", 0, 100_000, base.min_size)
        sel = c2.radio(
            "Themes",
            th.SELECTIONS,
            horizontal=True,
            index=th.SELECTIONS.index(base.selection),
            format_func={"eom": "Broader", "leaf": "Finer (more outliers)"}.get,
        )
        assign = c3.checkbox("Assign outliers to the nearest theme", base.assign_outliers)
        if st.form_submit_button("Discover themes", type="primary"):
            settings = base.replace(min_size=int(size), selection=sel, assign_outliers=assign)
            if run_stage("themes", settings, encoder=_encoder()) is not None:
                st.rerun()


def _summary(run_id: str, m: dict, data_key: str) -> None:
    cols = st.columns(4)
    cols[0].metric("Themes", m.get("n_themes", 0))
    cols[1].metric("New (not in taxonomy)", m.get("n_new_themes", 0))
    cols[2].metric("Reviews", f"{m.get('n_reviews', 0):,}")
    cols[3].metric(
        "Outlier share",
        f"{m.get('outlier_share', 0):.0%}",
        help="Reviews HDBSCAN could not place in a theme; they stay flagged even "
        "when assigned to the nearest theme.",
    )
    how_computed(
        HOW,
        f"Run {md(run_id)} · {m.get('skipped_short', 0):,} reviews too short for a "
        f"theme were left out · unassigned outliers {m.get('unassigned_share', 0):.0%}.",
    )
    if data_key != dataset_version(ws):
        st.warning("Data changed since these themes were found: run again to include it.")


def _table(themes) -> None:
    view = themes[["theme_id", "name", "size", "share", "covered_by", "promoted_as"]].copy()
    view.insert(2, "keywords", themes["keywords"].map(lambda k: ", ".join(k[:8])))
    view["covered_by"] = view["covered_by"].fillna("new")
    view = view.rename(
        columns={"theme_id": "Theme", "covered_by": "Covered by aspect", "promoted_as": "Added as aspect"}
    )
    show_table(view, "themes_table", text_first=False)


def _cards(themes, mask: bool) -> None:
    for t in themes.head(MAX_CARDS).itertuples():
        tag = "new" if t.theme_id >= 0 and t.covered_by is None else (t.covered_by or "")
        label = f"{t.theme_id} · {md(t.name)} · {t.size:,} reviews" + (f" · {md(tag)}" if tag else "")
        with st.expander(label):
            st.markdown("**Keywords:** " + md(", ".join(t.keywords)))
            if t.overlap:
                st.caption(
                    "Reviews mentioning taxonomy aspects: "
                    + md(
                        ", ".join(
                            f"{a} {o['share']:.0%} ({o['lift']:.1f}x usual)" for a, o in t.overlap.items()
                        )
                    )
                )
            for rep in t.representatives:
                text = mask_text(rep["text"]) if mask else rep["text"]
                st.markdown("- " + md(text))


def new_themes(themes):
    """Themes not covered by the aspect list and not promoted yet, largest first."""
    new = themes[(themes.theme_id >= 0) & themes.covered_by.isna() & themes.promoted_as.isna()]
    return new.sort_values("size", ascending=False)


def _mostly_new(run_id: str, themes) -> None:
    """Most themes are not in the aspect list: say so and offer to promote them in one click."""
    real = themes[themes.theme_id >= 0]
    new = new_themes(themes)
    if real.empty or len(new) / len(real) <= MOSTLY_NEW:
        return
    starter = current_starter(ws)
    in_use = f"the **{md(starter)}** starter list" if starter else "your aspect list"
    st.warning(
        f"{len(new)} of {len(real)} themes are not covered by {in_use}: it may not fit these "
        "reviews. Pick the starter list that fits them best on the **Model** page (it shows each "
        "list's coverage of your reviews), or add the largest new themes as aspects here."
    )
    top = new.head(PROMOTE_TOP)
    st.caption(
        "Adds these themes to the aspect list, each with its keywords as seed phrases: "
        + md(", ".join(top["name"].astype(str)))
        + ". Retrain the review model afterwards so it scores them."
    )
    if st.button(f"Promote the {len(top)} largest new themes to aspects", key="themes_promote_top"):
        added = []
        with user_errors():
            for t in top.itertuples():
                added.append(th.promote_theme(ws, run_id, int(t.theme_id), th.suggest_aspect_name(t.name)))
        if added:
            st.session_state["themes_version"] = st.session_state.get("themes_version", 0) + 1
            st.session_state["themes_flash"] = "Added aspects: " + md(", ".join(added)) + "."
            st.rerun()


def _promote(run_id: str, themes) -> None:
    st.subheader("Add a theme to the aspect taxonomy")
    cand = themes[(themes.theme_id >= 0) & themes.promoted_as.isna()]
    cand = cand.sort_values(["covered_by", "theme_id"], na_position="first")
    if cand.empty:
        st.caption("Every theme is already promoted.")
        return
    names = dict(zip(cand.theme_id, cand.name))
    pick = st.selectbox(
        "Theme", list(names), key="themes_promote_pick", format_func=lambda i: f"{i}: {names[i]}"
    )
    name = st.text_input(
        "Aspect name", th.suggest_aspect_name(names[pick]), key=f"themes_promote_name_{run_id}_{pick}"
    )
    if st.button("Promote to taxonomy", key="themes_promote"):
        with user_errors():
            stored = th.promote_theme(ws, run_id, int(pick), name)
            st.session_state["themes_version"] = st.session_state.get("themes_version", 0) + 1
            st.session_state["themes_flash"] = (
                f"Added aspect **{md(stored)}** with the theme's keywords as seed phrases."
            )
            st.rerun()


runs = th.theme_runs(ws)
missing = missing_note("themes", "Theme discovery")
if missing:  # no button without its inputs: say what is missing instead
    st.info(missing)
    if runs.empty:
        st.stop()
else:
    with st.expander("Find themes", expanded=runs.empty):
        _run_form()
if runs.empty:
    st.info(
        "No themes yet: press **Discover themes** above (the first run "
        "embeds every review, about a minute per 2,000 reviews on a CPU)."
    )
    st.stop()
labels = {
    r.run_id: f"{r.run_id} · {r.finished_at:%Y-%m-%d %H:%M} · {r.metrics.get('n_themes', 0)} themes"
    for r in runs.itertuples()
}
run_id = st.selectbox("Theme run", list(labels), format_func=labels.get, key="themes_run")
run = runs.set_index("run_id").loc[run_id]
if "themes_flash" in st.session_state:
    st.success(st.session_state.pop("themes_flash"))
_summary(run_id, run["metrics"], run["dataset_key"])
themes = _themes(run_id, st.session_state.get("themes_version", 0))
mask = mask_pii_toggle("themes_mask")
themes = mask_generated_frame(themes) if mask else themes  # names of old runs may hold emails
_mostly_new(run_id, themes)
_table(themes)
_cards(themes, mask)
_promote(run_id, themes)
