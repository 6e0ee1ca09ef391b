"""Personal data is detected by name and by value, and masked."""

import pandas as pd

from cx_core.ingest.pii import detect_pii, mask_attrs_json, mask_frame, mask_text, mask_value


def test_detect_by_name_and_value():
    df = pd.DataFrame(
        {
            "Customer Name": ["Ann Lee"],
            "E-mail": ["a@b.com"],
            "contact": ["x@y.org"],
            "Department Name": ["Dresses"],
            "cell": ["+44 7700 900123"],
            "n": [1],
        }
    )
    found = detect_pii(df)
    assert found == {"Customer Name": "name", "E-mail": "email", "contact": "email", "cell": "phone"}


def test_mask_values():
    assert mask_value("jane.doe@example.com", "email") == "j•••@e•••.com"
    assert mask_value("+44 7700 900123", "phone") == "•••• ••23"
    assert mask_value("Jane Doe", "name") == "J. D."
    assert mask_value(None, "email") is None


def test_mask_text_and_frame():
    assert "jane@example.com" not in mask_text("write to jane@example.com or +44 7700 900123 now")
    df = pd.DataFrame({"email": ["a@b.co"], "text": ["mail me: a@b.co"]})
    out = mask_frame(df, {"email": "email"}, ["text"])
    assert out.loc[0, "email"] == "a•••@b•••.co" and "a@b.co" not in out.loc[0, "text"]
    assert df.loc[0, "email"] == "a@b.co"  # the input is not changed


def test_mask_attrs_json():
    out = mask_attrs_json('{"Home Address": "1 Main St", "tier": "gold", "alt": "z@q.com"}')
    assert "Main St" not in out and "gold" in out and "z@q.com" not in out


def test_dates_and_times_are_not_phone_numbers():
    assert detect_pii(pd.DataFrame({"d": ["2025-01-05", "2025-02-01"]})) == {}
    assert detect_pii(pd.DataFrame({"d": ["12/01/2010 08:26", "1/2/2011 10:00"]})) == {}
    assert mask_text("Ordered on 2025-01-05 10:00, order 123") == "Ordered on 2025-01-05 10:00, order 123"
    assert "900123" not in mask_text("call +44 7700 900123")
