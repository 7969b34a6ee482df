"""Rendering: the sandboxed template environment, per-network length counting and fitting."""
