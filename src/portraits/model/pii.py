"""Masking personal identifiers for display: ``138****5678``, ``z***@example.com``.

Screens and reports show PII masked unless the caller holds the PII scope (the CLI's
``--show-pii``). Only the kinds of value that identify a person directly are masked.
"""

from __future__ import annotations

MASKED_TYPES = frozenset({"phone", "email"})


def mask_phone(phone: str) -> str:
    """A phone with the middle digits hidden; a Chinese +86 number loses its prefix.

    Example:
        >>> mask_phone("+8613812345678")
        '138****5678'
    """
    digits = phone[3:] if phone.startswith("+86") else phone
    if len(digits) < 8:
        return "*" * len(digits)
    return digits[:3] + "****" + digits[-4:]


def mask_email(email: str) -> str:
    """An e-mail with the local part hidden after its first character.

    Example:
        >>> mask_email("zhang1234567@example.com")
        'z***@example.com'
    """
    local, at, domain = email.partition("@")
    return (local[:1] + "***" + at + domain) if at else local[:1] + "***"


def mask_identifier(id_type: str, value: str) -> str:
    """``value`` masked if its type is personal information, else as it is."""
    if id_type == "phone":
        return mask_phone(value)
    if id_type == "email":
        return mask_email(value)
    return value
