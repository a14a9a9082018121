"""kdl.tuning public API."""

__all__ = []
