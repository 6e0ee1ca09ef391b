"""Shared input files for the loading tests: an Online Retail style orders export."""

from __future__ import annotations

from pathlib import Path

#: the header of the UCI Online Retail export (an orders file)
RETAIL = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]


def orders_csv(path: Path) -> Path:
    """Write a two-line Online Retail style orders CSV (customers c1 and c9) to ``path``."""
    path.write_text(
        ",".join(RETAIL) + "\n536365,85123A,WHITE HEART,6,2010-12-01 08:26,2.55,c1,UK\n"
        "536366,71053,LANTERN,2,2010-12-02 09:00,3.39,c9,UK\n"
    )
    return path
