"""The workspace's tables (the data model in the README is generated from here)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cx_core.store.sql import quote_ident

if TYPE_CHECKING:  # pragma: no cover
    from cx_core.store.db import Workspace

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
        text_hash VARCHAR NOT NULL,
        label VARCHAR""",
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
        p_alive DOUBLE, expected_purchases DOUBLE, expected_spend DOUBLE, clv DOUBLE,
        churn_prob DOUBLE, churn_method VARCHAR, churn_window VARCHAR,
        n_reviews BIGINT, mean_rating DOUBLE, mean_sentiment DOUBLE, negative_share DOUBLE,
        complaint_rate DOUBLE, praise_rate DOUBLE, risk_rate DOUBLE,
        top_complaints VARCHAR[], top_praise VARCHAR[]""",
    "review_scores": """
        run_id VARCHAR NOT NULL,
        dataset_id VARCHAR NOT NULL,
        review_id VARCHAR NOT NULL,
        model_id VARCHAR NOT NULL,
        sentiment_method VARCHAR NOT NULL,
        sentiment VARCHAR NOT NULL,
        p_negative DOUBLE, p_neutral DOUBLE, p_positive DOUBLE,
        sentiment_score DOUBLE,
        rating_pred DOUBLE,
        aspects VARCHAR[],
        aspect_sentiment_json VARCHAR,
        risk DOUBLE,
        risk_flags VARCHAR[]""",
    "aspect_taxonomy": """
        aspect VARCHAR PRIMARY KEY,
        seeds_json VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL""",
    "segments": """
        run_id VARCHAR NOT NULL,
        unit_kind VARCHAR NOT NULL,
        unit_id VARCHAR NOT NULL,
        segment_id INTEGER NOT NULL,
        is_outlier BOOLEAN NOT NULL,
        probability DOUBLE,
        x DOUBLE, y DOUBLE""",
    "segment_info": """
        run_id VARCHAR NOT NULL,
        segment_id INTEGER NOT NULL,
        name VARCHAR NOT NULL,
        keywords_json VARCHAR,
        size BIGINT NOT NULL,
        share DOUBLE,
        revenue_share DOUBLE,
        mean_clv DOUBLE,
        churn_rate DOUBLE,
        mean_sentiment DOUBLE,
        top_aspects_json VARCHAR,
        representative_json VARCHAR,
        traits_json VARCHAR""",
    "themes": """
        run_id VARCHAR NOT NULL,
        theme_id INTEGER NOT NULL,
        name VARCHAR NOT NULL,
        keywords_json VARCHAR,
        size BIGINT NOT NULL,
        share DOUBLE,
        outlier_members BIGINT,
        representative_json VARCHAR,
        overlap_json VARCHAR,
        covered_by VARCHAR,
        promoted_as VARCHAR""",
    "review_themes": """
        run_id VARCHAR NOT NULL,
        dataset_id VARCHAR NOT NULL,
        review_id VARCHAR NOT NULL,
        theme_id INTEGER NOT NULL,
        is_outlier BOOLEAN NOT NULL""",
    "segment_reasons": """
        run_id VARCHAR NOT NULL,
        segment_run VARCHAR NOT NULL,
        segment_id INTEGER NOT NULL,
        direction VARCHAR NOT NULL,
        rank INTEGER NOT NULL,
        word VARCHAR NOT NULL,
        score DOUBLE NOT NULL,
        reviews INTEGER NOT NULL,
        sampled INTEGER NOT NULL""",
    "explanations": """
        model_id VARCHAR NOT NULL,
        text_hash VARCHAR NOT NULL,
        head VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        settings VARCHAR NOT NULL,
        method VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        seconds DOUBLE,
        result_json VARCHAR NOT NULL,
        PRIMARY KEY (model_id, text_hash, head, target, settings)""",
    "recommendations": """
        run_id VARCHAR NOT NULL,
        customer_id VARCHAR NOT NULL,
        rank INTEGER NOT NULL,
        item VARCHAR NOT NULL,
        item_name VARCHAR,
        score DOUBLE,
        reason VARCHAR NOT NULL,
        because_item VARCHAR,
        source VARCHAR""",
    "audit_log": """
        happened_at TIMESTAMP NOT NULL,
        actor VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        detail_json VARCHAR NOT NULL""",
    "runs": """
        run_id VARCHAR PRIMARY KEY,
        stage VARCHAR NOT NULL,
        dataset_key VARCHAR NOT NULL,
        config_json VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        status VARCHAR NOT NULL,
        metrics_json VARCHAR""",
    "jobs": """
        job_id VARCHAR PRIMARY KEY,
        stage VARCHAR NOT NULL,
        settings_json VARCHAR NOT NULL,
        started_by VARCHAR NOT NULL,
        state VARCHAR NOT NULL,
        progress DOUBLE NOT NULL,
        message VARCHAR NOT NULL,
        units_done BIGINT,
        units_total BIGINT,
        rate DOUBLE,
        eta_s DOUBLE,
        estimate_s DOUBLE,
        device VARCHAR,
        created_at TIMESTAMP NOT NULL,
        started_at TIMESTAMP,
        finished_at TIMESTAMP,
        result_run_id VARCHAR,
        error VARCHAR,
        cancel_requested BOOLEAN NOT NULL,
        pid INTEGER""",
}

DATA_TABLES = ("customers", "orders", "reviews")


def column_defs(cols: str) -> list[tuple[str, str]]:
    """``(name, type)`` of each column in a table body (constraints such as PRIMARY KEY skipped)."""
    out: list[tuple[str, str]] = []
    for part in re.split(r",(?![^()]*\))", cols):
        part = part.strip()
        if not part or part.upper().startswith(("PRIMARY KEY", "UNIQUE", "CHECK")):
            continue
        m = re.match(r'("(?:[^"]|"")+"|\w+)\s+([\w\[\]]+)', part)
        if m:
            out.append((m.group(1).strip('"').replace('""', '"'), m.group(2)))
    return out


def ensure_schema(ws: "Workspace") -> None:
    """Create every table that does not exist yet and add columns a newer version declares.

    Idempotent; a workspace written by an older version gains the new (nullable)
    columns, so nothing already stored is lost.
    """

    with ws.write(timeout_s=30) as cur:
        for name, cols in TABLES.items():
            cur.execute(f"CREATE TABLE IF NOT EXISTS {quote_ident(name)} ({cols})")
            have = {
                r[0]
                for r in cur.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                    "AND table_schema = current_schema()",
                    [name],
                ).fetchall()
            }
            for col, typ in column_defs(cols):
                if col not in have:
                    cur.execute(f"ALTER TABLE {quote_ident(name)} ADD COLUMN {quote_ident(col)} {typ}")
        cur.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
