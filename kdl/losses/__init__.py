"""kdl.losses public API."""

__all__ = []
