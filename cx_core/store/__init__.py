"""The workspace store: the one SQL gateway (db), the tables (schema), SQL helpers (sql) and the runs API (runs)."""
