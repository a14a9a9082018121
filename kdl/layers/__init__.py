"""kdl.layers public API."""

__all__ = []
