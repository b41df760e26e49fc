"""Importing this package registers every rule with the catalogue."""

from hub.chain.rules import custody, logistics

__all__ = ["custody", "logistics"]
