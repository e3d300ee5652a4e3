"""The ``portraits`` command line (Typer + Rich); thin over the Workspace facade."""
