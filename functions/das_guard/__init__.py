"""DAS Guard: database activity streams for every new Aurora cluster, by tag-based policy."""

__version__ = "0.1.0"
