"""Workspaces: a folder with ``portraits.yaml``, its data and its database."""

from portraits.workspace.facade import Workspace

__all__ = ["Workspace"]
