"""Intake parsers: each format in, `ParseResult` (incidents, or the reasons they were refused) out."""
