"""Plotly figures as pure functions of DataFrames (tested through ``fig.to_dict()``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def _partial(monthly: pd.DataFrame, flag: str) -> pd.Series:
    return (
        monthly[flag].fillna(False).astype(bool) if flag in monthly else pd.Series(False, index=monthly.index)
    )


def activity_figure(monthly: pd.DataFrame, currency: str = "") -> go.Figure:
    """Monthly revenue (bars) and review count (line) on two axes. A month its source covers only
    in part (``revenue_partial`` / ``reviews_partial``) is drawn faded and named "partial month",
    so a half month never reads as a collapse."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    if not monthly.empty:
        rp, vp = _partial(monthly, "revenue_partial"), _partial(monthly, "reviews_partial")
        fig.add_trace(
            go.Bar(
                x=monthly["month"],
                y=monthly["revenue"],
                name="Revenue",
                marker_color="#2E6FDB",
                marker_opacity=[0.35 if p else 1.0 for p in rp],
                customdata=["partial month" if p else "" for p in rp],
                hovertemplate="%{x|%Y-%m}: %{y:,.0f} %{customdata}<extra>Revenue</extra>",
            ),
            secondary_y=False,
        )
        fig.add_trace(
            go.Scatter(
                x=monthly["month"],
                y=monthly["reviews"],
                name="Reviews",
                mode="lines+markers",
                line_color="#E4572E",
                marker_symbol=["circle-open" if p else "circle" for p in vp],
                marker_size=[11 if p else 6 for p in vp],
                customdata=["partial month" if p else "" for p in vp],
                hovertemplate="%{x|%Y-%m}: %{y:,} %{customdata}<extra>Reviews</extra>",
            ),
            secondary_y=True,
        )
    fig.update_layout(
        title="Monthly activity (faded bar, open marker: month only partly covered by the data)"
        if not monthly.empty
        and (_partial(monthly, "revenue_partial").any() or _partial(monthly, "reviews_partial").any())
        else "Monthly activity",
        height=380,
        margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="h", y=-0.15),
    )
    fig.update_yaxes(title_text=f"Revenue ({currency})" if currency else "Revenue", secondary_y=False)
    fig.update_yaxes(title_text="Reviews", secondary_y=True, rangemode="tozero", tickformat=",d")
    return fig


def rfm_segment_figure(profiles: pd.DataFrame) -> go.Figure:
    """Customers and predicted CLV per RFM segment (bars, two axes)."""
    g = (
        profiles.groupby("rfm_segment", observed=True)
        .agg(customers=("customer_id", "size"), clv=("clv", "sum"))
        .sort_values("customers", ascending=False)
        .reset_index()
    )
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(x=g["rfm_segment"], y=g["customers"], name="Customers", marker_color="#2E6FDB", offsetgroup=0),
        secondary_y=False,
    )
    fig.add_trace(
        go.Bar(x=g["rfm_segment"], y=g["clv"], name="Predicted CLV", marker_color="#F2A541", offsetgroup=1),
        secondary_y=True,
    )
    fig.update_layout(
        title="RFM segments: size and predicted lifetime value",
        barmode="group",
        height=360,
        margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="h", y=-0.25),
    )
    fig.update_yaxes(title_text="Customers", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text="CLV", secondary_y=True, rangemode="tozero")
    return fig


def drivers_figure(drivers: pd.DataFrame, top: int = 10) -> go.Figure:
    """Horizontal bars: mean-rating gain if each aspect's negative mentions were neutral."""
    d = drivers.head(top).iloc[::-1]
    fig = go.Figure()
    if not d.empty:
        fig.add_trace(
            go.Bar(
                x=d["rating_gain"],
                y=d["aspect"],
                orientation="h",
                name="Rating gain",
                marker_color="#E4572E",
                customdata=np.column_stack([d["negative_mentions"], d["mentions"]]),
                hovertemplate="%{y}: +%{x:.3f} stars<br>%{customdata[0]} negative of "
                "%{customdata[1]} mentions<extra></extra>",
            )
        )
    fig.update_layout(
        title="What to fix first: mean rating gained if negatives were neutral",
        height=max(260, 40 + 30 * len(d)),
        margin=dict(l=10, r=10, t=50, b=10),
    )
    fig.update_xaxes(title_text="Rating gain (stars)", rangemode="tozero")
    return fig


def trends_figure(trends: pd.DataFrame) -> go.Figure:
    """Monthly mean sentiment and churn risk (lines) over aspect mentions (bars)."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    if not trends.empty:
        fig.add_trace(
            go.Bar(x=trends["month"], y=trends["mentions"], name="Aspect mentions", marker_color="#BBD0F2"),
            secondary_y=True,
        )
        fig.add_trace(
            go.Bar(
                x=trends["month"],
                y=trends["negative_mentions"],
                name="Negative mentions",
                marker_color="#F2A541",
            ),
            secondary_y=True,
        )
        fig.add_trace(
            go.Scatter(
                x=trends["month"],
                y=trends["mean_sentiment"],
                name="Mean sentiment",
                mode="lines+markers",
                line_color="#2E6FDB",
            ),
            secondary_y=False,
        )
        if trends["churn_risk"].notna().any():
            fig.add_trace(
                go.Scatter(
                    x=trends["month"],
                    y=trends["churn_risk"],
                    name="Churn risk",
                    mode="lines+markers",
                    line_color="#7A1F1F",
                ),
                secondary_y=False,
            )
    fig.update_layout(
        title="Monthly trends",
        height=380,
        barmode="overlay",
        margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="h", y=-0.15),
    )
    fig.update_yaxes(title_text="Sentiment / churn probability", secondary_y=False)
    fig.update_yaxes(title_text="Mentions", secondary_y=True, rangemode="tozero")
    return fig
