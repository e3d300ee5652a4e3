"""Portraits: customer profiling (用户画像) and precision marketing (精准营销).

The supported public API is re-exported here; everything else is internal. ``Workspace``
is imported on first use, so the command line starts without loading the data stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portraits.errors import PortraitsError, SpecError

if TYPE_CHECKING:
    from portraits.workspace.facade import Workspace

__all__ = ["PortraitsError", "SpecError", "Workspace", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Workspace":
        from portraits.workspace.facade import Workspace

        return Workspace
    raise AttributeError(f"module 'portraits' has no attribute {name!r}")
