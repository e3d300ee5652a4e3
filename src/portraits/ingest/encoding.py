"""Detect and check the text encoding of a source file.

Chinese exports are often GBK; we read those as GB18030, its superset, so characters
outside GBK (生僻字 in names) are not lost.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from charset_normalizer import from_bytes

from portraits.errors import PortraitsError

SAMPLE_BYTES = 1 << 20
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "cp936", "hz"}


def canonical_encoding(name: str) -> str:
    """A Python codec name, with the GB family widened to GB18030."""
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise PortraitsError(f"unknown encoding '{name}'") from None
    return "gb18030" if codec.replace("-", "").lower() in _GB_FAMILY else codec


def detect_encoding(path: Path) -> str:
    """Guess the encoding of a text file from its first megabyte.

    UTF-8 (with or without BOM) is tried first because it is unambiguous; otherwise
    charset-normalizer decides.
    """
    sample = _sample(path)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if _decodes(sample, "utf-8"):
        return "utf-8"
    best = from_bytes(sample).best()
    if best is None and _decodes(sample, "gb18030"):
        return "gb18030"
    if best is None:
        raise PortraitsError(f"{path.name}: cannot tell the text encoding; "
                             "set 'encoding:' for this source (e.g. gb18030 or utf-8)")
    return canonical_encoding(best.encoding)


def check_encoding(path: Path, encoding: str) -> None:
    """Raise a clear error if the file's start does not decode with ``encoding``."""
    sample = _sample(path)
    try:
        sample.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.end >= len(sample) - 4 and len(sample) == SAMPLE_BYTES:
            return  # the sample cut a multi-byte character in half
        line = sample[: exc.start].count(b"\n") + 1
        guess = _guess(sample)
        hint = f"; it looks like {guess}: set 'encoding: {guess}'" if guess else ""
        raise PortraitsError(
            f"{path.name}, line {line}: not valid {encoding} "
            f"(byte 0x{sample[exc.start]:02x} at offset {exc.start}){hint}"
        ) from None


def _guess(sample: bytes) -> str | None:
    if _decodes(sample, "utf-8"):
        return "utf-8"
    best = from_bytes(sample).best()
    return canonical_encoding(best.encoding) if best else None


def _sample(path: Path) -> bytes:
    """The file's first megabyte, cut after its last whole line.

    A sample cut inside a two-byte GB18030 character does not decode as GB18030, and
    charset-normalizer then rejects the right answer.
    """
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    end = sample.rfind(b"\n")
    return sample[: end + 1] if len(sample) == SAMPLE_BYTES and end > 0 else sample


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        sample.decode(encoding)
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sample is not an error.
        return exc.end >= len(sample) - 4 and len(sample) == SAMPLE_BYTES
    return True
