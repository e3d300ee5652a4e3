"""Portraits: customer profiling and precision marketing."""
