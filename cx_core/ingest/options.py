"""The choices a load takes beyond the mapping: decimal separator, duplicates, sheet, limits."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from cx_core.ingest.numbers import normalise_decimal

DUPLICATE_CHOICES = ("auto", "keep", "drop")


def _one_year_ahead() -> date:
    today = date.today()
    try:
        return today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        return today.replace(year=today.year + 1, day=28)


@dataclass(frozen=True)
class LoadOptions:
    """How to read and check a file.

    ``decimal``: auto | point | comma (numbers in text files); ``duplicates``: what to do with
    order lines that repeat another line exactly (auto: keep when the file has a line-number
    column or no quantity column, else drop); ``sheet``: the Excel sheet (None: the first);
    dates outside ``date_min`` … ``date_max`` and ids longer than ``max_id_length`` are refused.
    """

    decimal: str = "auto"
    duplicates: str = "auto"
    sheet: str | None = None
    date_min: date = date(1990, 1, 1)
    date_max: date | None = None  # None: one year after today
    max_id_length: int = 256

    def __post_init__(self) -> None:
        object.__setattr__(self, "decimal", normalise_decimal(self.decimal))
        if self.duplicates not in DUPLICATE_CHOICES:
            raise ValueError(
                f"duplicates must be one of {', '.join(DUPLICATE_CHOICES)}, got {self.duplicates!r}"
            )
        if self.max_id_length < 1:
            raise ValueError("max_id_length must be at least 1")

    @property
    def window(self) -> tuple[date, date]:
        """The accepted date range (inclusive)."""
        return self.date_min, self.date_max or _one_year_ahead()

    def with_(self, **changes) -> "LoadOptions":
        """A copy with some choices changed."""
        return replace(self, **changes)


def parse_day(text: str, setting: str) -> date | None:
    """A 'YYYY-MM-DD' setting as a date (None when empty)."""
    if not str(text or "").strip():
        return None
    try:
        return datetime.strptime(str(text).strip(), "%Y-%m-%d").date()
    except ValueError as exc:
        raise ValueError(f"setting {setting} must be a date like 1990-01-01, got {text!r}") from exc


def options_from_config(ingest_cfg, **choices) -> LoadOptions:
    """Load options from the ``ingest`` config section, with per-load ``choices``
    (decimal, duplicates, sheet) where given."""
    base = LoadOptions(
        date_min=parse_day(ingest_cfg.date_min, "ingest.date_min") or date(1990, 1, 1),
        date_max=parse_day(ingest_cfg.date_max, "ingest.date_max"),
        max_id_length=int(ingest_cfg.max_id_length),
    )
    return base.with_(**{k: v for k, v in choices.items() if v is not None})
