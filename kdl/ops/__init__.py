"""kdl.ops public API."""

__all__ = []
