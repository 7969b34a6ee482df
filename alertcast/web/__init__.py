"""`alertcast web`: the intake API (and later the console), a separate ASGI process writing to Kafka."""
