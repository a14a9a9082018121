"""kdl.optimizers public API."""

__all__ = []
