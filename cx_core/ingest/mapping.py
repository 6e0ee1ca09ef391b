"""Our canonical fields per table kind, and suggesting a mapping from a user's column names.

A mapping is a plain ``dict`` from canonical field name to the user's column
name (or ``None`` when the field is not in the file).  Suggestions come from
normalised synonyms first, then from word overlap; the user confirms or edits
the result on the Data page or on the CLI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

KINDS = ("customers", "orders", "reviews")


@dataclass(frozen=True)
class FieldSpec:
    """One canonical column: its name, value type, whether it is required, and synonyms."""

    name: str
    label: str
    vtype: str  # id | str | text | ts | num | label
    required: bool = False
    synonyms: tuple[str, ...] = ()
    help: str = ""


# a person id first: Olist's customer_unique_id, not its per-order customer_id
_CUSTOMER_ID = (
    "customeruniqueid",
    "uniquecustomerid",
    "personid",
    "customerid",
    "customer",
    "custid",
    "clientid",
    "client",
    "userid",
    "user",
    "reviewerid",
    "memberid",
    "accountid",
    "buyerid",
    "shopperid",
    "customerno",
    "customernumber",
    "cid",
    "uid",
)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "customers": (
        FieldSpec("customer_id", "Customer id", "id", True, _CUSTOMER_ID + ("id",)),
        FieldSpec(
            "name",
            "Name",
            "str",
            False,
            ("name", "fullname", "customername", "clientname", "contactname", "username", "reviewername"),
        ),
        FieldSpec("email", "Email", "str", False, ("email", "emailaddress", "mail", "email1")),
        FieldSpec(
            "phone",
            "Phone",
            "str",
            False,
            ("phone", "phonenumber", "telephone", "tel", "mobile", "mobilephone", "cell"),
        ),
        FieldSpec("country", "Country", "str", False, ("country", "countrycode", "nation")),
        FieldSpec("city", "City", "str", False, ("city", "town")),
        FieldSpec(
            "signup_ts",
            "Signup date",
            "ts",
            False,
            (
                "signupdate",
                "signup",
                "created",
                "createdat",
                "registered",
                "registrationdate",
                "joindate",
                "firstseen",
                "customersince",
            ),
        ),
        FieldSpec("age", "Age", "num", False, ("age",)),
        FieldSpec("gender", "Gender", "str", False, ("gender", "sex")),
    ),
    "orders": (
        FieldSpec(
            "order_id",
            "Order id",
            "id",
            False,
            (
                "orderid",
                "invoiceno",
                "invoice",
                "invoiceid",
                "invoicenumber",
                "orderno",
                "ordernumber",
                "transactionid",
                "txnid",
                "receiptid",
                "basketid",
            ),
            "optional: one order per customer and timestamp when absent",
        ),
        FieldSpec("customer_id", "Customer id", "id", True, _CUSTOMER_ID),
        FieldSpec(
            "ts",
            "Order date",
            "ts",
            True,
            (
                "invoicedate",
                "orderdate",
                "orderpurchasetimestamp",
                "purchasetimestamp",
                "orderpurchasedate",
                "purchasedatetime",
                "date",
                "datetime",
                "timestamp",
                "ts",
                "time",
                "purchasedate",
                "transactiondate",
                "createdat",
                "orderedat",
            ),
        ),
        FieldSpec(
            "amount",
            "Amount",
            "num",
            False,
            (
                "amount",
                "dollarvalue",
                "revenue",
                "sales",
                "total",
                "totalprice",
                "linetotal",
                "value",
                "spend",
                "ordervalue",
                "netamount",
            ),
            "line or order value; computed as quantity × unit price when absent",
        ),
        FieldSpec(
            "quantity",
            "Quantity",
            "num",
            False,
            ("quantity", "qty", "numberofcds", "units", "count", "items"),
        ),
        FieldSpec(
            "unit_price",
            "Unit price",
            "num",
            False,
            ("unitprice", "price", "priceeach", "itemprice", "priceperunit", "unitcost"),
        ),
        FieldSpec(
            "item",
            "Item id",
            "id",
            False,
            (
                "stockcode",
                "sku",
                "productid",
                "itemid",
                "asin",
                "productcode",
                "articleid",
                "clothingid",
                "listingid",
                "businessid",
            ),
        ),
        FieldSpec(
            "item_name",
            "Item name",
            "str",
            False,
            ("description", "product", "productname", "itemname", "title", "article"),
        ),
        FieldSpec("country", "Country", "str", False, ("country", "countrycode", "region")),
    ),
    "reviews": (
        FieldSpec(
            "review_id",
            "Review id",
            "id",
            False,
            ("reviewid", "feedbackid", "commentid", "responseid", "ticketid"),
        ),
        FieldSpec("customer_id", "Customer id", "id", False, _CUSTOMER_ID),
        FieldSpec(
            "ts",
            "Review date",
            "ts",
            False,
            (
                "unixreviewtime",
                "reviewdate",
                "date",
                "reviewtime",
                "datetime",
                "timestamp",
                "ts",
                "createdat",
                "submittedat",
                "time",
                "reviewcreationdate",
                "creationdate",
                "tweetcreated",
                "postedat",
                "publishedat",
            ),
        ),
        FieldSpec("title", "Title", "str", False, ("title", "summary", "headline", "subject", "reviewtitle")),
        FieldSpec(
            "text",
            "Review text",
            "text",
            True,
            (
                "reviewtext",
                "text",
                "review",
                "body",
                "comment",
                "comments",
                "feedback",
                "content",
                "reviewbody",
                "message",
                "verbatim",
                "sentence",
                "response",
                "tweet",
                "tweettext",
                "post",
                "posttext",
                "commenttext",
                "reviewcommentmessage",
                "reviewcontent",
                "reviewdescription",
            ),
        ),
        FieldSpec(
            "rating",
            "Rating",
            "num",
            False,
            (
                "rating",
                "overall",
                "stars",
                "score",
                "starrating",
                "reviewrating",
                "nps",
                "csat",
                "reviewscore",
                "reviewstars",
            ),
        ),
        FieldSpec(
            "label",
            "Sentiment label",
            "label",
            False,
            ("sentimentlabel", "sentiment", "label", "polarity", "sentimentclass"),
            "optional: positive / negative (/ neutral), as words or 0/1, -1/0/1, 0/1/2",
        ),
        FieldSpec(
            "item",
            "Item id",
            "id",
            False,
            (
                "asin",
                "productid",
                "itemid",
                "sku",
                "clothingid",
                "stockcode",
                "businessid",
                "listingid",
                "hotelid",
                "placeid",
                "venueid",
                "restaurantid",
                "propertyid",
                "appid",
                "bookid",
                "movieid",
                "product",
            ),
        ),
        FieldSpec(
            "category",
            "Category",
            "str",
            False,
            ("category", "classname", "departmentname", "department", "productcategory", "divisionname"),
        ),
    ),
}


def fields_for(kind: str) -> tuple[FieldSpec, ...]:
    """The canonical fields of a table kind (``customers``, ``orders`` or ``reviews``)."""
    if kind not in FIELDS:
        raise ValueError(f"unknown table kind {kind!r}; expected one of {', '.join(KINDS)}")
    return FIELDS[kind]


def normalise(name: str) -> str:
    """Lower-case a column name and drop everything but letters and digits."""
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def _words(name: str) -> set[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name))
    return {w for w in re.split(r"[^0-9a-z]+", spaced.lower()) if w}


# date columns that are not when something was bought or written
_LATER_DATES = {
    "shipping",
    "ship",
    "shipped",
    "shipment",
    "limit",
    "estimated",
    "estimate",
    "delivery",
    "delivered",
    "carrier",
    "approved",
    "due",
    "expiry",
    "expiration",
    "expires",
    "answer",
    "answered",
    "updated",
    "modified",
    "refund",
    "return",
    "returned",
    "cancelled",
    "canceled",
    "paid",
    "payment",
}
_BUY_DATES = {
    "purchase",
    "purchased",
    "order",
    "ordered",
    "invoice",
    "transaction",
    "created",
    "creation",
    "review",
    "posted",
    "submitted",
}
# entities whose "<entity>_id" column is the item a review or order line is about
_ITEM_ENTITIES = {
    "business",
    "product",
    "listing",
    "item",
    "hotel",
    "place",
    "venue",
    "restaurant",
    "property",
    "app",
    "book",
    "movie",
    "game",
    "article",
    "sku",
    "asin",
    "course",
}


def _rank(spec: FieldSpec, column: str) -> tuple[int, int] | None:
    """How well a column's words fit a field (None: not at all); higher is better."""
    words = _words(column)
    hits = sum(1 for syn in spec.synonyms if len(syn) > 3 and syn in words)
    bonus = 0
    if spec.vtype == "ts":
        if words & _LATER_DATES:
            return None
        bonus = 2 * bool(words & _BUY_DATES)
    if spec.name == "customer_id" and "unique" in words:
        bonus += 1
    if spec.name == "item" and "id" in words and words & _ITEM_ENTITIES:
        hits += 1
    return (hits + bonus, hits) if hits else None


def suggest_mapping(kind: str, columns: Iterable[str], sample=None) -> dict[str, str | None]:
    """Suggest a source column for each canonical field (exact synonyms first, then word overlap).

    Each source column is used at most once; fields are filled in declaration order.  With a
    ``sample`` (a DataFrame of the file's first rows) the content counts too: a text field is
    never given a column of numbers.
    """
    from cx_core.ingest.content import holds_text

    cols = [c for c in columns]

    def fits(spec: FieldSpec, col: str) -> bool:
        if sample is None or spec.vtype != "text" or col not in getattr(sample, "columns", ()):
            return True
        return holds_text(sample[col])

    taken: set[str] = set()
    result: dict[str, str | None] = {}
    specs = fields_for(kind)
    # pass 1: exact normalised synonym, in synonym priority order
    for spec in specs:
        result[spec.name] = None
        for syn in spec.synonyms:
            hit = next((c for c in cols if c not in taken and normalise(c) == syn and fits(spec, c)), None)
            if hit is not None:
                result[spec.name] = hit
                taken.add(hit)
                break
    # pass 2: the column whose words best contain synonym words ("Customer Ref No" -> customer_id)
    for spec in specs:
        if result[spec.name] is not None or spec.vtype == "num" and spec.name != "rating":
            continue
        ranked = [
            (r, -i, c)
            for i, c in enumerate(cols)
            if c not in taken and (r := _rank(spec, c)) is not None and fits(spec, c)
        ]
        if ranked:
            c = max(ranked)[2]
            result[spec.name] = c
            taken.add(c)
    return result


def mapping_problems(kind: str, mapping: Mapping[str, str | None], columns: Iterable[str]) -> list[str]:
    """Plain-language problems that stop a load: required fields unmapped, unknown or reused columns."""
    cols = set(columns)
    problems: list[str] = []
    specs = {s.name: s for s in fields_for(kind)}
    for name in mapping:
        if name not in specs:
            problems.append(f"'{name}' is not a field of {kind}")
    for spec in specs.values():
        src = mapping.get(spec.name)
        if spec.required and not src:
            problems.append(f"Required field '{spec.label}' is not mapped to a column.")
        if src and src not in cols:
            problems.append(f"Column '{src}' mapped to '{spec.label}' is not in the file.")
    used = [v for v in mapping.values() if v]
    for dup in sorted({v for v in used if used.count(v) > 1}):
        problems.append(f"Column '{dup}' is mapped to more than one field.")
    if kind == "orders" and not mapping.get("amount") and not mapping.get("unit_price"):
        problems.append(
            "Map 'Amount', or 'Unit price' (with 'Quantity' when a row holds several "
            "units) so the amount can be computed."
        )
    return problems


def kind_hint(kind: str, columns: Iterable[str]) -> str | None:
    """A hint when the file's columns fit another table kind better than ``kind``, else None.

    Another kind is named when its suggested mapping has no problems, maps more
    fields than ``kind``'s, and uses at least two columns ``kind`` would ignore;
    e.g. "This looks like an orders file (Invoice, Quantity, UnitPrice columns): choose 'Orders'".
    """
    cols = [str(c) for c in columns]
    mine = {k: v for k, v in suggest_mapping(kind, cols).items() if v}
    fits = not mapping_problems(kind, mine, cols)
    best: tuple[int, str, list[str]] | None = None
    for other in KINDS:
        if other == kind:
            continue
        theirs = {k: v for k, v in suggest_mapping(other, cols).items() if v}
        extra = [c for c in cols if c in theirs.values() and c not in mine.values()]
        if mapping_problems(other, theirs, cols) or len(extra) < 2:
            continue
        if (not fits or len(theirs) > len(mine)) and (best is None or len(theirs) > best[0]):
            best = (len(theirs), other, extra)
    if best is None:
        return None
    _, other, extra = best
    article = "an" if other[0] in "aeiou" else "a"
    return (
        f"This looks like {article} {other} file ({', '.join(extra[:3])} columns): "
        f"choose '{other.capitalize()}'."
    )
