"""Plotly figures as pure functions of DataFrames (tested through ``fig.to_dict()``)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def activity_figure(monthly: pd.DataFrame) -> go.Figure:
    """Monthly revenue (bars) and review count (line) on two axes."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    if not monthly.empty:
        fig.add_trace(go.Bar(x=monthly["month"], y=monthly["revenue"], name="Revenue",
                             marker_color="#2E6FDB"), secondary_y=False)
        fig.add_trace(go.Scatter(x=monthly["month"], y=monthly["reviews"], name="Reviews",
                                 mode="lines+markers", line_color="#E4572E"), secondary_y=True)
    fig.update_layout(title="Monthly activity", height=380, margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", y=-0.15))
    fig.update_yaxes(title_text="Revenue", secondary_y=False)
    fig.update_yaxes(title_text="Reviews", secondary_y=True, rangemode="tozero", tickformat=",d")
    return fig


def rfm_segment_figure(profiles: pd.DataFrame) -> go.Figure:
    """Customers and predicted CLV per RFM segment (bars, two axes)."""
    g = (profiles.groupby("rfm_segment", observed=True)
         .agg(customers=("customer_id", "size"), clv=("clv", "sum"))
         .sort_values("customers", ascending=False).reset_index())
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=g["rfm_segment"], y=g["customers"], name="Customers",
                         marker_color="#2E6FDB", offsetgroup=0), secondary_y=False)
    fig.add_trace(go.Bar(x=g["rfm_segment"], y=g["clv"], name="Predicted CLV",
                         marker_color="#F2A541", offsetgroup=1), secondary_y=True)
    fig.update_layout(title="RFM segments: size and predicted lifetime value", barmode="group",
                      height=360, margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", y=-0.25))
    fig.update_yaxes(title_text="Customers", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text="CLV", secondary_y=True, rangemode="tozero")
    return fig
