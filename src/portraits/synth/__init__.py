"""Synthetic Chinese retail data with planted truth (``portraits generate``).

Seeded and streamed: people are made in blocks, each block's files are appended and
forgotten, so memory stays bounded from a thousand customers to millions. What was
planted (personas, churners, value layers, bought-together pairs, shared devices, CRM
duplicates, junk identifiers, every bad row) is written to ``truth/`` beside the data, so
tests can check that the analysis finds it.

Example:
    >>> from portraits.synth import generate
    >>> summary = generate("data", customers=1000, seed=42)   # doctest: +SKIP
    >>> summary.files["events"]                                # doctest: +SKIP
"""

from __future__ import annotations

from portraits.synth.runner import GenerationSummary, generate

__all__ = ["GenerationSummary", "generate"]
