"""Find columns that hold personal data and mask them for display and export.

Detection uses the column name (email, phone, a person's name, address …)
and, for any column, the values (a majority that look like emails or phone
numbers).  Masking keeps enough to tell values apart (``j•••@e•••.com``,
``•••• ••23``) and is on by default; the UI and the exports share it.
"""

from __future__ import annotations

import re
from typing import Iterable

import pandas as pd

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
PHONE_RE = re.compile(r"(?<![\w:.\-/])\+?\(?\d[\d\s().\-]{7,}\d(?![\w:.\-/])")
_DATE_LIKE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")


def is_phone(s: str) -> bool:
    """A phone number: 9-15 digits, not shaped like a date."""
    return 9 <= len(re.sub(r"\D", "", s)) <= 15 and not _DATE_LIKE.search(s)


_NAME_COLS = {
    "name",
    "fullname",
    "firstname",
    "lastname",
    "surname",
    "givenname",
    "customername",
    "clientname",
    "contactname",
    "reviewername",
    "username",
    "displayname",
    "profilename",
}
_PII_WORDS = (
    "email",
    "mail",
    "phone",
    "mobile",
    "telephone",
    "address",
    "street",
    "postcode",
    "zipcode",
    "postalcode",
    "birth",
    "dob",
    "ssn",
    "passport",
    "ipaddress",
    "iban",
)


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def pii_kind_from_name(column: str) -> str | None:
    """'email', 'phone', 'name' or 'other' when the column name says personal data, else None."""
    n = _norm(column)
    if "mail" in n:
        return "email"
    if any(w in n for w in ("phone", "mobile", "telephone")) or n in ("tel", "cell"):
        return "phone"
    if n in _NAME_COLS:
        return "name"
    if any(w in n for w in _PII_WORDS):
        return "other"
    return None


def pii_kind_from_values(values: Iterable[object], threshold: float = 0.6) -> str | None:
    """'email' or 'phone' when most non-blank sample values look like one, else None."""
    vals = [str(v) for v in values if v is not None and str(v).strip() and str(v) != "nan"]
    if not vals:
        return None
    if sum(bool(EMAIL_RE.fullmatch(v.strip())) for v in vals) / len(vals) >= threshold:
        return "email"
    if sum(bool(PHONE_RE.fullmatch(v.strip())) and is_phone(v) for v in vals) / len(vals) >= threshold:
        return "phone"
    return None


def detect_pii(df: pd.DataFrame, sample: int = 200) -> dict[str, str]:
    """Map each column of ``df`` that looks personal to its kind (email, phone, name, other)."""
    found: dict[str, str] = {}
    for col in df.columns:
        kind = pii_kind_from_name(col)
        if kind is None and not pd.api.types.is_numeric_dtype(df[col]):
            kind = pii_kind_from_values(df[col].head(sample).tolist())
        if kind:
            found[col] = kind
    return found


def mask_value(value: object, kind: str) -> object:
    """Mask one value of the given kind; None/NaN stay as they are."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return value
    s = str(value)
    if kind == "email" and "@" in s:
        user, _, domain = s.partition("@")
        host, dot, tld = domain.rpartition(".")
        return f"{user[:1]}•••@{(host[:1] + '•••') if host else ''}{dot}{tld}"
    if kind == "phone":
        digits = re.sub(r"\D", "", s)
        return "•••• ••" + digits[-2:] if len(digits) >= 4 else "••••"
    if kind == "name":
        return " ".join(p[:1] + "." for p in s.split() if p) or "•••"
    return "•••" if len(s) <= 4 else s[:1] + "•••" + s[-1:]


def mask_text(text: object) -> object:
    """Mask emails and phone numbers inside free text (review bodies)."""
    if not isinstance(text, str):
        return text
    text = EMAIL_RE.sub(lambda m: str(mask_value(m.group(0), "email")), text)
    return PHONE_RE.sub(
        lambda m: str(mask_value(m.group(0), "phone")) if is_phone(m.group(0)) else m.group(0), text
    )


def mask_frame(
    df: pd.DataFrame, pii: dict[str, str] | None = None, text_columns: Iterable[str] = ()
) -> pd.DataFrame:
    """A copy of ``df`` with personal columns masked and emails/phones inside text columns masked."""
    pii = detect_pii(df) if pii is None else pii
    out = df.copy()
    for col, kind in pii.items():
        if col in out.columns:
            out[col] = out[col].map(lambda v, k=kind: mask_value(v, k))
    for col in text_columns:
        if col in out.columns and col not in pii:
            out[col] = out[col].map(mask_text)
    if "attrs_json" in out.columns:
        out["attrs_json"] = out["attrs_json"].map(mask_attrs_json)
    return out


def mask_attrs_json(value: object) -> object:
    """Mask the personal entries of a JSON object of extra columns (keys judged by name and value)."""
    import json

    if not isinstance(value, str):
        return value
    try:
        obj = json.loads(value)
    except ValueError:
        return mask_text(value)
    if not isinstance(obj, dict):
        return mask_text(value)
    for k, v in obj.items():
        kind = pii_kind_from_name(k) or pii_kind_from_values([v])
        obj[k] = mask_value(v, kind) if kind else mask_text(v)
    return json.dumps(obj, ensure_ascii=False)
