"""Workspaces: a folder with ``portraits.yaml``, its data and its database.

The facade is :class:`portraits.workspace.facade.Workspace`, exported as
``portraits.Workspace``.
"""
