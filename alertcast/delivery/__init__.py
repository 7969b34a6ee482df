"""Delivery semantics, pure: the state machine, the ledger, retry, circuit breakers, post rates,
pause switches and routing (no Kafka, no network: alertcast.stream.deliver moves the bytes)."""
