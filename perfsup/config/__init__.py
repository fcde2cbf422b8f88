"""Typed configuration, loaded from TOML with errors that name the key."""

from perfsup.config.load import ConfigError, is_git_url, load_config, parse_config
from perfsup.config.model import (
    AccessRules,
    BenchSettings,
    Budgets,
    CommandSpec,
    Config,
    DecisionSettings,
    MetricSpec,
    ModelSettings,
)

__all__ = [
    "AccessRules",
    "BenchSettings",
    "Budgets",
    "CommandSpec",
    "Config",
    "ConfigError",
    "DecisionSettings",
    "MetricSpec",
    "ModelSettings",
    "is_git_url",
    "load_config",
    "parse_config",
]
