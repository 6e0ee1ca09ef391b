"""The workspace's tables (the data model in the README is generated from here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .db import Workspace

SCHEMA_VERSION = 1

TABLES: dict[str, str] = {
    "meta": """
        key VARCHAR PRIMARY KEY,
        value VARCHAR""",
    "datasets": """
        dataset_id VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,
        source_name VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        loaded_at TIMESTAMP NOT NULL,
        rows BIGINT NOT NULL,
        rejected BIGINT NOT NULL,
        mapping_json VARCHAR NOT NULL,
        report_json VARCHAR NOT NULL""",
    "customers": """
        dataset_id VARCHAR NOT NULL,
        customer_id VARCHAR NOT NULL,
        name VARCHAR,
        email VARCHAR,
        phone VARCHAR,
        country VARCHAR,
        city VARCHAR,
        signup_ts TIMESTAMP,
        age DOUBLE,
        gender VARCHAR,
        attrs_json VARCHAR""",
    "orders": """
        dataset_id VARCHAR NOT NULL,
        line_no BIGINT NOT NULL,
        order_id VARCHAR NOT NULL,
        customer_id VARCHAR,
        ts TIMESTAMP NOT NULL,
        amount DOUBLE NOT NULL,
        quantity DOUBLE,
        unit_price DOUBLE,
        item VARCHAR,
        item_name VARCHAR,
        country VARCHAR,
        is_return BOOLEAN NOT NULL""",
    "reviews": """
        dataset_id VARCHAR NOT NULL,
        review_id VARCHAR NOT NULL,
        customer_id VARCHAR,
        ts TIMESTAMP,
        title VARCHAR,
        text VARCHAR NOT NULL,
        rating DOUBLE,
        item VARCHAR,
        category VARCHAR,
        text_hash VARCHAR NOT NULL""",
    "embeddings": """
        text_hash VARCHAR NOT NULL,
        model_id VARCHAR NOT NULL,
        vec FLOAT[] NOT NULL,
        PRIMARY KEY (text_hash, model_id)""",
    "customer_profiles": """
        run_id VARCHAR NOT NULL,
        customer_id VARCHAR NOT NULL,
        frequency DOUBLE, recency DOUBLE, "T" DOUBLE, monetary_value DOUBLE,
        recency_days DOUBLE, n_orders BIGINT, revenue DOUBLE, aov DOUBLE, tenure_days DOUBLE,
        mean_interpurchase_days DOUBLE, return_rate DOUBLE,
        first_purchase TIMESTAMP, last_purchase TIMESTAMP,
        "R" INTEGER, "F" INTEGER, "M" INTEGER, rfm VARCHAR, rfm_segment VARCHAR,
        p_alive DOUBLE, expected_purchases DOUBLE, expected_spend DOUBLE, clv DOUBLE""",
    "runs": """
        run_id VARCHAR PRIMARY KEY,
        stage VARCHAR NOT NULL,
        dataset_key VARCHAR NOT NULL,
        config_json VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        status VARCHAR NOT NULL,
        metrics_json VARCHAR""",
}

DATA_TABLES = ("customers", "orders", "reviews")


def ensure_schema(ws: "Workspace") -> None:
    """Create every table that does not exist yet (idempotent)."""
    from .db import quote_ident

    with ws.write(timeout_s=30) as cur:
        for name, cols in TABLES.items():
            cur.execute(f"CREATE TABLE IF NOT EXISTS {quote_ident(name)} ({cols})")
        cur.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
