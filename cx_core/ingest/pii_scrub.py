"""Keep personal data out of generated text: scrub texts before words are counted, mask what comes out.

Segment and theme names, keyword lists and report sections are *generated* from
review texts (c-TF-IDF over the words customers wrote).  A group of customers who
all write the same phone number or email address would otherwise be named after
it (``"example, 07700 & 07700 900123"``).  Two layers stop that:

* :func:`scrub_pii` removes email addresses (whole, so no piece such as the
  user or the domain survives), phone numbers and any run of 5+ digits (with or
  without spaces, dots, dashes, brackets or slashes between them) from a text
  **before** it is tokenised, so they never enter a vocabulary;
  :data:`TOKEN_PATTERN` is a vectorizer token pattern that drops any token
  holding 5+ digits as well.
* :func:`mask_generated` masks what slipped through anyway in a generated
  string, and :func:`is_pii_word` tells a keyword to drop (defence in depth).
  :func:`mask_name` is the one masker every generated name, keyword list, alert and
  report line goes through when masking is on (pages, report, alerts, export), also for
  names stored by runs made before scrubbing existed; :func:`mask_generated_frame`
  applies it to a table's name and keyword columns.

The column and free-text masking for display lives in :mod:`cx_core.ingest.pii`.
"""

from __future__ import annotations

import re
from typing import Iterable

import pandas as pd

from cx_core.ingest.pii import mask_text, mask_value

#: an email address, also without a top-level domain or with a space around the ``@``
EMAILISH_RE = re.compile(r"[\w.%+\-]+ ?@ ?[\w\-]+(?:\.[\w\-]+)*", re.UNICODE)
#: 5+ digits, possibly separated by up to two of ``space ( ) . - /`` (phone numbers, long ids)
DIGIT_GROUP_RE = re.compile(r"\+?\(?\d(?:[ \t().\-/]{0,2}\d){4,}")
#: scikit-learn's default token pattern minus any token that holds 5+ digits in a row
TOKEN_PATTERN = r"(?u)\b(?!\w*\d{5})\w\w+\b"
MASK = "•••••"
_HAS_DIGIT = re.compile(r"\d")


def scrub_pii(text: object) -> str:
    """``text`` with emails, phone numbers and 5+ digit runs replaced by a space (``None`` -> "")."""
    if not isinstance(text, str):
        return "" if text is None else scrub_pii(str(text))
    if "@" in text:
        text = EMAILISH_RE.sub(" ", text)
    if _HAS_DIGIT.search(text):
        text = DIGIT_GROUP_RE.sub(" ", text)
    return text


def scrub_texts(texts: Iterable[object]) -> list[str]:
    """:func:`scrub_pii` over many texts."""
    return [scrub_pii(t) for t in texts]


def mask_generated(text: object) -> object:
    """A generated string (name, keyword, report line) with emails and 5+ digit groups masked.

    Emails keep the masked shape of :func:`cx_core.ingest.pii.mask_value`
    (``j•••@e•••.com``); digit groups become ``•••••``.  Non-strings pass unchanged.
    """
    if not isinstance(text, str):
        return text
    if "@" in text:
        text = EMAILISH_RE.sub(lambda m: str(mask_value(m.group(0).replace(" ", ""), "email")), text)
    if _HAS_DIGIT.search(text):
        text = DIGIT_GROUP_RE.sub(MASK, text)
    return text


def is_pii_word(word: str) -> bool:
    """True when a keyword holds (part of) an email address, a phone number or a 5+ digit run."""
    return "@" in word or mask_generated(word) != word or re.search(r"\d{5}", word) is not None


def mask_name(text: object) -> object:
    """A generated name, keyword or label with every piece of personal data masked: emails and
    5+ digit groups (:func:`mask_generated`, no digit kept), then whatever the on-screen masker
    still finds (:func:`cx_core.ingest.pii.mask_text`).  Non-strings pass unchanged."""
    if not isinstance(text, str):
        return text
    return mask_text(mask_generated(text))


def _mask_cell(value: object) -> object:
    if isinstance(value, str):
        return mask_name(value)
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else list(value)
        return [mask_name(v) for v in items] if isinstance(items, list) else value
    return value


#: columns of segment / theme tables that hold generated text (names, keyword lists)
GENERATED_TEXT_COLUMNS = ("name", "keywords", "segment", "segment_name", "label", "suggested_name")


def mask_generated_frame(df: pd.DataFrame, columns: Iterable[str] = GENERATED_TEXT_COLUMNS) -> pd.DataFrame:
    """A copy of ``df`` whose generated-text ``columns`` (strings or lists of strings) went
    through :func:`mask_name`; other columns are untouched."""
    out = df.copy()
    for col in columns:
        if col in out.columns:
            out[col] = out[col].map(_mask_cell)
    return out
