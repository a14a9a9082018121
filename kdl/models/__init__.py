"""kdl.models public API."""

__all__ = []
