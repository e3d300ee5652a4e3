"""Create a new workspace folder from the packaged template."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from portraits.errors import PortraitsError
from portraits.workspace.loader import SPEC_FILE

# The engine's files, and trained models (pickles, rebuilt by `portraits predict train`).
GITIGNORE = ".portraits/\nmodels/\n"


def template_text() -> str:
    """The packaged ``portraits.yaml`` template (the retail example)."""
    return (files("portraits.workspace") / "templates" / SPEC_FILE).read_text(encoding="utf-8")


def create_workspace(path: Path, force: bool = False) -> Path:
    """Write ``portraits.yaml``, ``data/``, ``tags/`` and ``segments/`` (with examples) and
    a .gitignore.

    Raises:
        PortraitsError: If ``path`` already holds a workspace and ``force`` is False.
    """
    spec = path / SPEC_FILE
    if spec.exists() and not force:
        raise PortraitsError(f"{spec} already exists; use --force to overwrite it")
    path.mkdir(parents=True, exist_ok=True)
    spec.write_text(template_text(), encoding="utf-8")
    for folder in ("data", "tags", "segments", "campaigns", "content"):
        (path / folder).mkdir(exist_ok=True)
    for folder, name in (("tags", "my_tags.yaml"), ("segments", "examples.yaml")):
        example = path / folder / name
        if not example.exists():
            example.write_text((files("portraits.workspace") / "templates" / folder / name)
                               .read_text(encoding="utf-8"), encoding="utf-8")
    ignore = path / ".gitignore"
    if not ignore.exists():
        ignore.write_text(GITIGNORE, encoding="utf-8")
    return spec
