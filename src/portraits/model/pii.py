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


def mask_name(name: str) -> str:
    """A person's name with all but its first and last character hidden; Latin names keep
    the first letter of each word.

    Example:
        >>> mask_name("王小明"), mask_name("李娜"), mask_name("Zhang Wei")
        ('王*明', '李*', 'Z**** W**')
    """
    words = name.split()
    if len(words) > 1 or name.isascii():
        return " ".join(w[:1] + "*" * (len(w) - 1) for w in words)
    if len(name) <= 2:
        return name[:1] + "*" * (len(name) - 1)
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_birthday(birthday: str) -> str:
    """A date of birth with month and day hidden.

    Example:
        >>> mask_birthday("1990-05-17")
        '1990-**-**'
    """
    return birthday[:4] + "-**-**" if len(birthday) >= 10 else "****"


def mask_address(address: str) -> str:
    """A street address reduced to its first third (at most six characters): the
    province or city stays readable, the street and number do not.

    Example:
        >>> mask_address("浙江省杭州市西湖区文三路 123 号")
        '浙江省杭州市****'
    """
    return address[:min(6, len(address) // 3)] + "****"


def mask_ip(ip: str) -> str:
    """An IP address with its host part hidden (two IPv4 octets, all but two IPv6 groups).

    Example:
        >>> mask_ip("36.116.0.169")
        '36.116.*.*'
    """
    if ip.count(".") == 3:
        return ".".join(ip.split(".")[:2]) + ".*.*"
    if ":" in ip:
        return ":".join(ip.split(":")[:2]) + ":*"
    return "*" * len(ip)


def mask_field(name: str, value: object) -> str:
    """The display text of a field flagged PII in the model (``FieldDef.pii``), masked
    by what the field holds; fields without a specific rule keep only their first
    character.

    Example:
        >>> mask_field("phone", "+8613812345678"), mask_field("name", "王小明")
        ('138****5678', '王*明')
    """
    text = str(value)
    maskers = {"phone": mask_phone, "email": mask_email, "name": mask_name,
               "birthday": mask_birthday, "address": mask_address, "ip": mask_ip}
    masker = maskers.get(name)
    return masker(text) if masker is not None else text[:1] + "***"
