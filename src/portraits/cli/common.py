"""What the command groups share: run an action with friendly errors, the console and
language of this command, and opening the workspace (imported lazily, so ``--help``
answers at once)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from portraits.i18n import Lang
    from portraits.workspace.facade import Workspace


def run_friendly(action: Callable[[], None]) -> None:
    """Run ``action``; a user mistake becomes one clear message and exit 2."""
    from portraits.cli import main as cli

    cli.friendly(action)()


def console_lang() -> tuple[Console, Lang]:
    """The console and the language of this command's output."""
    from portraits.cli import main as cli

    return cli.console, cli.lang()


def open_workspace(path: Path) -> Workspace:
    """The workspace at ``path``."""
    from portraits.workspace.facade import Workspace

    return Workspace(path)
