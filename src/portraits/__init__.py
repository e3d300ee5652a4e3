"""Portraits: customer profiling (用户画像) and precision marketing (精准营销).

The supported public API is re-exported here; everything else is internal.
"""

from portraits.errors import PortraitsError, SpecError
from portraits.workspace.facade import Workspace

__all__ = ["PortraitsError", "SpecError", "Workspace", "__version__"]
__version__ = "0.1.0"
