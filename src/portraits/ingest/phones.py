"""Phone numbers to E.164 with Google's libphonenumber (the ``phonenumbers`` package).

Parsing runs in Python, so the loader sends each *distinct* raw number through it once
and joins the result back as a lookup table; that keeps the engine doing the heavy work.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import phonenumbers
import pyarrow as pa

RAW = "_phone_raw"
E164 = "_phone_e164"


@lru_cache(maxsize=65536)
def normalise_phone(raw: str, region: str = "CN") -> str | None:
    """The E.164 form of a phone number, or None if it is not a valid number.

    Args:
        raw: As written: '138 1234 5678', '+86-138-1234-5678', '008613812345678'.
        region: Region assumed for numbers written without a country code.

    Example:
        >>> normalise_phone("138-1234-5678")
        '+8613812345678'
    """
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text.startswith("86") and len("".join(c for c in text if c.isdigit())) == 13:
        text = "+" + text  # 8613812345678 written without the plus
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_lookup(raw_values: Iterable[str], region: str) -> pa.Table:
    """A two-column table: each distinct raw value and its E.164 form (NULL if invalid)."""
    values = sorted(set(raw_values))
    return pa.table({
        RAW: pa.array(values, pa.string()),
        E164: pa.array([normalise_phone(v, region) for v in values], pa.string()),
    })
