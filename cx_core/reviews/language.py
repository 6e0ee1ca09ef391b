"""Which language the reviews are in: the packaged encoder (MiniLM) reads English only.

:func:`check_language` runs a light detector (``py3langid``, a maintained
re-packaging of langid.py: a naive-Bayes model over byte n-grams, ~1 ms a text)
on a seeded sample of the texts long enough to judge. When most of them are not
English the model still trains, but its sentence embedding understands little:
the hashed n-gram part carries the model, and the result says so (training
output and Model page) instead of scoring silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

#: texts shorter than this (characters) are not judged: too little to tell a language
MIN_CHARS = 20
#: above this share of non-English texts the data is flagged
NON_ENGLISH_SHARE = 0.5


@dataclass(frozen=True)
class LanguageCheck:
    """Result of :func:`check_language` (shares over the judged sample)."""

    judged: int
    english_share: float | None
    languages: dict[str, float] = field(default_factory=dict)
    mostly_not_english: bool = False
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for metrics.json."""
        return asdict(self)


def detect_languages(texts: Sequence[str]) -> list[str]:
    """ISO 639-1 code of each text (``py3langid``)."""
    import py3langid

    return [py3langid.classify(t)[0] for t in texts]


def check_language(
    texts: Sequence[str], sample: int = 400, seed: int = 0, min_chars: int = MIN_CHARS
) -> LanguageCheck:
    """Detect the language of up to ``sample`` texts (seeded) of at least ``min_chars`` characters.

    ``mostly_not_english`` when more than half of them are not English; the
    message names the main languages and what the model does about it.
    """
    pool = [t for t in texts if isinstance(t, str) and len(t.strip()) >= min_chars]
    if not pool:
        return LanguageCheck(0, None)
    if len(pool) > sample:
        pick = np.random.default_rng(seed).choice(len(pool), sample, replace=False)
        pool = [pool[i] for i in sorted(pick)]
    counts = Counter(detect_languages(pool))
    n = len(pool)
    shares = {lang: round(c / n, 3) for lang, c in counts.most_common(5)}
    english = counts.get("en", 0) / n
    flagged = 1 - english > NON_ENGLISH_SHARE
    message = ""
    if flagged:
        top = ", ".join(f"{lang} {share:.0%}" for lang, share in shares.items() if lang != "en")
        message = (
            f"Most reviews are not English ({1 - english:.0%} of {n:,} checked: {top}). "
            "The packaged encoder reads English, so its sentence embedding understands "
            "little of them: the model leans on its word n-gram part, and zero-shot "
            "sentiment cannot be trusted. Compare it with the TF-IDF baseline below."
        )
    return LanguageCheck(n, round(english, 3), shares, flagged, message)
