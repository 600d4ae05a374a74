"""Settings and the shipped escalation policy (the only place policy defaults live)."""

from __future__ import annotations

from config.policy import ConfigError, LadderRung, Policy, load_policy
from config.settings import Settings, load_settings

__all__ = ["ConfigError", "LadderRung", "Policy", "Settings", "load_policy", "load_settings"]
