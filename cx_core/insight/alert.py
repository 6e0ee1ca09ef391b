"""One "what changed" alert: a share before and after, with its test and FDR q-value."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

#: renders a segment or aspect name inside an alert (``str``, or a masker)
Namer = Callable[[str], str]


@dataclass(frozen=True)
class Alert:
    """One change: ``before``/``after`` are shares (0-1) in the two periods (or runs).

    ``p_value`` is the test's own p; ``q_value`` its Benjamini-Hochberg q over every candidate
    alert (NaN for structural segment changes, which are not tested).
    """

    kind: str
    subject: str
    message: str
    before: float
    after: float
    p_value: float
    q_value: float = math.nan
