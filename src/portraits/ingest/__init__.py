"""Ingest: read source files, map them onto the canonical model, clean, report quality."""
