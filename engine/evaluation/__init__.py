"""The daily evaluation: what fell due, the rules' decisions, levels and statuses derived from counted strikes."""
