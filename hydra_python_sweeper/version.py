"""The engine's version (also the plugin's, and the one the journal's first line records)."""

__version__ = "0.7.0"
