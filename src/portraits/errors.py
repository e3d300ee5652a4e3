"""Errors a user can cause and fix. The CLI prints them without a traceback."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from difflib import get_close_matches


class PortraitsError(Exception):
    """A problem the user can fix: bad input, bad spec, missing file."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a file, with where it is and a hint."""

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        parts = [f"{where}: " if where else "", f"{self.field}: " if self.field else "",
                 self.message]
        if self.hint:
            parts.append(f" ({self.hint})")
        return "".join(parts)


class SpecError(PortraitsError):
    """A workspace or definition file is invalid; carries every problem found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the workspace definition"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean …?' hint for a misspelt name, or None if nothing is close."""
    options = list(choices)
    close = get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in options}
        close = [lowered[w] for w in get_close_matches(word.lower(), lowered, n=1, cutoff=0.6)]
    return f"did you mean '{close[0]}'?" if close else None
