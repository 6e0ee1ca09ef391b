"""Plotly figures as pure functions of DataFrames (tested through ``fig.to_dict()``)."""
