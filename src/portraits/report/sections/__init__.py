"""One module per report section; each has ``build(ctx) -> (Section, figures)``
(``actions`` also reads the other sections' figures)."""
