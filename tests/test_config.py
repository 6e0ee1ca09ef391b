"""The typed config: defaults, CX_* overrides, and every setting documented."""

import dataclasses

import pytest

from cx_core.config import SETTINGS_DOC, Config, env_name, load_config


def test_defaults_are_frozen():
    cfg = load_config(env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.db.path = "x"  # type: ignore[misc]


def test_env_overrides_and_aliases():
    cfg = load_config(
        env={
            "CX_DB_PATH": "/tmp/a.duckdb",
            "CX_MODEL_DIR": "/m",
            "CX_UI_MASK_PII": "false",
            "CX_DB_THREADS": "1",
        }
    )
    assert cfg.db.path == "/tmp/a.duckdb"
    assert cfg.model.model_dir == "/m"
    assert cfg.ui.mask_pii is False
    assert cfg.db.threads == 1


def test_bad_values_are_refused():
    with pytest.raises(ValueError):
        load_config(env={"CX_UI_MASK_PII": "maybe"})
    with pytest.raises(KeyError):
        load_config(env={}, db__nope=1)


def test_every_setting_is_documented():
    cfg = Config()
    keys = {
        f"{s.name}.{f.name}"
        for s in dataclasses.fields(cfg)
        for f in dataclasses.fields(getattr(cfg, s.name))
    }
    assert keys == set(SETTINGS_DOC), keys ^ set(SETTINGS_DOC)
    assert env_name("db.path") == "CX_DB_PATH"
