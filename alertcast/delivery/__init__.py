"""Delivery semantics: retry policy, and (later) the ledger and circuit breaker."""
