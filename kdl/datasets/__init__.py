"""kdl.datasets public API."""

__all__ = []
