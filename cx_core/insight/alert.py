"""One "what changed" alert: a share before and after, with its test and FDR q-value."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

#: renders a segment or aspect name inside an alert (``str``, or a masker)
Namer = Callable[[str], str]
#: the test statistics appended to a tested alert's message
TEST_SUFFIX = re.compile(r" \(p = [^()]*\)$")


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

    @property
    def headline(self) -> str:
        """The message without its test statistics ("(p = …, FDR q = …)"), for marketer pages."""
        return TEST_SUFFIX.sub("", self.message)
