"""Delivery: the outbox, written before anything is sent, claimed per attempt, retried with backoff."""
