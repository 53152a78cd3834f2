"""The mappings file: its models, rules, loading and schema (docs/configuration.md)."""

DEFAULT_CONFIG = "config/mappings.yaml"  # read when neither --config nor ENTRASYNC_CONFIG is set
