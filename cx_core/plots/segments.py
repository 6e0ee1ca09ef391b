"""Segment figures as pure functions of DataFrames (tested through ``fig.to_dict()``).

Plotly renders a subset of HTML in trace names, tick labels and hover text,
so every user string (segment names, review snippets, ids) goes through
:func:`cx_core.safe.html_escape` before it reaches a figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from cx_core.safe import html_escape

PALETTE = (
    "#2E6FDB",
    "#E4572E",
    "#17BEBB",
    "#F2A541",
    "#76B041",
    "#9B5DE5",
    "#F15BB5",
    "#00BBF9",
    "#8D6A9F",
    "#C47A2C",
    "#4C6085",
    "#3BB273",
)
OUTLIER_COLOUR = "#B0B0B0"
MARGIN = dict(l=10, r=10, t=50, b=10)


def colour(segment_id: int) -> str:
    """A stable colour per segment id (grey for outliers)."""
    return OUTLIER_COLOUR if segment_id < 0 else PALETTE[segment_id % len(PALETTE)]


def label(segment_id: int, name: object) -> str:
    """``"3 · name"`` escaped for plotly."""
    return html_escape(f"{segment_id} · {name}" if segment_id >= 0 else str(name))


def unit_noun(unit_kind: str | None) -> str:
    """Plural noun for what a run segmented: "reviews" for a review-level run, else "customers"."""
    return "reviews" if unit_kind == "review" else "customers"


def _wrap(text: object, width: int = 60, lines: int = 3) -> str:
    """Escaped text broken into a few ``<br>``-separated lines for hover boxes."""
    words, out, cur = str(text or "").split(), [], ""
    for w in words:
        if len(cur) + len(w) + 1 > width:
            out.append(cur)
            cur = ""
            if len(out) == lines:
                break
        cur = f"{cur} {w}".strip()
    if cur and len(out) < lines:
        out.append(cur)
    return "<br>".join(html_escape(x) for x in out)


def segment_map_figure(units: pd.DataFrame, unit_kind: str | None = "customer") -> go.Figure:
    """The 2-D map: one marker trace per segment; hover shows id, segment and a review snippet.

    ``unit_kind`` ("customer" or "review") names what the points are in the title.
    """
    fig = go.Figure()
    for seg, g in units.groupby("segment_id", sort=True):
        seg = int(seg)
        name = g["segment"].iloc[0] if "segment" in g and g["segment"].notna().any() else seg
        custom = np.column_stack(
            [
                g["unit_id"].map(html_escape),
                [label(seg, name)] * len(g),
                g["snippet"].map(_wrap) if "snippet" in g else [""] * len(g),
            ]
        )
        fig.add_trace(
            go.Scattergl(
                x=g["x"],
                y=g["y"],
                mode="markers",
                name=label(seg, name),
                customdata=custom,
                marker=dict(size=5, color=colour(seg), opacity=0.45 if seg < 0 else 0.8),
                hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]}<br>%{customdata[2]}"
                "<extra></extra>",
            )
        )
    fig.update_layout(
        title=f"Segment map (similar {unit_noun(unit_kind)} are close)",
        height=520,
        margin=MARGIN,
        legend=dict(itemsizing="constant"),
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def size_value_figure(info: pd.DataFrame, unit_kind: str | None = "customer") -> go.Figure:
    """Share of units and share of revenue per segment (horizontal grouped bars, largest on top)."""
    names = [label(s, n) for s, n in zip(info["segment_id"], info["name"])]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            y=names,
            x=info["share"],
            name=f"Share of {unit_noun(unit_kind)}",
            orientation="h",
            marker_color="#2E6FDB",
        )
    )
    if info["revenue_share"].notna().any():
        fig.add_trace(
            go.Bar(
                y=names,
                x=info["revenue_share"],
                name="Share of revenue",
                orientation="h",
                marker_color="#F2A541",
            )
        )
    fig.update_layout(
        title="Size and value",
        barmode="group",
        height=160 + 44 * len(info),
        margin=MARGIN,
        legend=dict(orientation="h", y=-0.15),
    )
    fig.update_xaxes(tickformat=".0%", rangemode="tozero")
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig


def clv_churn_figure(info: pd.DataFrame) -> go.Figure:
    """Mean CLV vs churn rate per segment (bubble = size); lines at the size-weighted means."""
    d = info[(info["segment_id"] >= 0) & info["mean_clv"].notna() & info["churn_rate"].notna()]
    fig = go.Figure()
    if not d.empty:
        size = 12 + 40 * np.sqrt(d["share"] / d["share"].max())
        fig.add_trace(
            go.Scatter(
                x=d["churn_rate"],
                y=d["mean_clv"],
                mode="markers+text",
                text=[str(s) for s in d["segment_id"]],
                textposition="middle center",
                customdata=[label(s, n) for s, n in zip(d["segment_id"], d["name"])],
                marker=dict(size=size, color=[colour(int(s)) for s in d["segment_id"]], opacity=0.8),
                hovertemplate="%{customdata}<br>churn %{x:.0%}<br>mean CLV %{y:,.0f}<extra></extra>",
                showlegend=False,
            )
        )
        w = d["size"] / d["size"].sum()
        fig.add_vline(x=float((d["churn_rate"] * w).sum()), line_dash="dot", line_color="#888")
        fig.add_hline(y=float((d["mean_clv"] * w).sum()), line_dash="dot", line_color="#888")
    fig.update_layout(title="Value vs churn (bubble = size)", height=420, margin=MARGIN)
    fig.update_xaxes(title_text="Churn rate", tickformat=".0%")
    fig.update_yaxes(title_text="Mean CLV")
    return fig


def aspect_heatmap_figure(aspects: pd.DataFrame, info: pd.DataFrame) -> go.Figure:
    """Share of each segment's reviews that mention each aspect."""
    names = dict(zip(info["segment_id"], info["name"]))
    m = aspects.pivot_table(index="segment_id", columns="aspect", values="share", fill_value=0.0)
    fig = go.Figure(
        go.Heatmap(
            z=m.to_numpy(),
            x=[html_escape(a) for a in m.columns],
            y=[label(int(s), names.get(s, s)) for s in m.index],
            colorscale="Blues",
            zmin=0,
            hovertemplate="%{y}<br>%{x}: %{z:.0%} of reviews<extra></extra>",
        )
    )
    fig.update_layout(title="Aspects by segment (share of reviews)", height=120 + 32 * len(m), margin=MARGIN)
    return fig


def sentiment_timeline_figure(
    timeline: pd.DataFrame, info: pd.DataFrame, value: str = "mean_sentiment"
) -> go.Figure:
    """Monthly mean sentiment (or rating) per segment."""
    names = dict(zip(info["segment_id"], info["name"]))
    fig = go.Figure()
    for seg, g in timeline.dropna(subset=[value]).groupby("segment_id"):
        fig.add_trace(
            go.Scatter(
                x=g["month"],
                y=g[value],
                mode="lines+markers",
                name=label(int(seg), names.get(seg, seg)),
                line_color=colour(int(seg)),
            )
        )
    title = "Sentiment over time" if value == "mean_sentiment" else "Mean rating over time"
    fig.update_layout(title=title, height=380, margin=MARGIN, legend=dict(orientation="h", y=-0.25))
    return fig


def aspect_timeline_figure(
    aspects_by_month: pd.DataFrame, segment_id: int, name: object, top: int = 6
) -> go.Figure:
    """Monthly share of one segment's reviews mentioning each of its top aspects."""
    d = aspects_by_month[aspects_by_month["segment_id"] == segment_id]
    keep = d.groupby("aspect")["mentions"].sum().nlargest(top).index
    fig = go.Figure()
    for i, a in enumerate(sorted(keep)):
        g = d[d["aspect"] == a]
        fig.add_trace(
            go.Scatter(
                x=g["month"],
                y=g["share"],
                mode="lines+markers",
                name=html_escape(a),
                line_color=PALETTE[i % len(PALETTE)],
            )
        )
    fig.update_layout(
        title=f"Aspects over time: {label(segment_id, name)}",
        height=360,
        margin=MARGIN,
        legend=dict(orientation="h", y=-0.25),
    )
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return fig
