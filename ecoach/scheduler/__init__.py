"""Durable task runner, availability, commitments, nudges (later issues)."""
