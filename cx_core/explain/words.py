"""Word pieces back to the words a reader sees, with character spans into the original text.

A *word* is a run of letters/digits (with inner apostrophes: "don't", "l'été"),
or a run of other non-space symbols (punctuation, emoji). Each word piece is
given to the word that contains its first character (the fast tokenizer's
offset mapping), so a word's score is the sum of its pieces' scores; pieces
without a span (special tokens) are kept apart.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Sequence

_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]+", re.UNICODE)


@dataclass(frozen=True)
class Word:
    """One word of the text: its span, its score (None if the model never saw it) and pieces."""

    text: str
    start: int
    end: int
    score: float | None
    pieces: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


def word_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every word of ``text`` in order."""
    return [m.span() for m in _WORD.finditer(text)]


def merge_pieces(
    text: str, offsets: Sequence[tuple[int, int]], scores: Sequence[float], seen_until: int | None = None
) -> tuple[list[Word], float]:
    """Sum piece scores per word; returns ``(words, score of pieces without a span)``.

    ``offsets`` are the tokenizer's ``(start, end)`` character spans, ``(0, 0)`` for
    special tokens. Words starting at or after ``seen_until`` (the end of the last
    piece the model saw, when the text was truncated) get ``score=None``.
    """
    spans = word_spans(text)
    starts = [s for s, _ in spans]
    totals = [0.0] * len(spans)
    counts = [0] * len(spans)
    special = 0.0
    for (start, end), score in zip(offsets, scores):
        if end <= start:
            special += float(score)
            continue
        i = _word_at(starts, spans, start)
        if i is None:  # a piece over whitespace-only text (rare normaliser output)
            special += float(score)
            continue
        totals[i] += float(score)
        counts[i] += 1
    limit = len(text) if seen_until is None else seen_until
    words = [
        Word(text[s:e], s, e, totals[i] if (counts[i] or s < limit) else None, counts[i])
        for i, (s, e) in enumerate(spans)
    ]
    return words, special


def _word_at(starts: list[int], spans: list[tuple[int, int]], pos: int) -> int | None:
    """Index of the word containing character ``pos`` (or the nearest word before it)."""
    import bisect

    i = bisect.bisect_right(starts, pos) - 1
    if i < 0:
        return 0 if spans else None
    s, e = spans[i]
    if pos < e:
        return i
    # a piece starting in the gap after word i (e.g. a normalised space): nearest word
    nxt = i + 1
    if nxt < len(spans):
        return nxt
    return i


#: HTML entities as they appear in scraped review text (``&quot;``, ``&#39;``, ``&amp;``)
ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")


def content_words(text: str, words: list[Word]) -> list[Word]:
    """The words worth listing as reasons: with a letter or digit, not part of an HTML entity (the
    special tokens are never words: they have no span in the text)."""
    inside = [(m.start(), m.end()) for m in ENTITY.finditer(text)]
    return [
        w
        for w in words
        if any(ch.isalnum() for ch in w.text) and not any(a <= w.start and w.end <= b for a, b in inside)
    ]
