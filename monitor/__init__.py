"""discourse-monitor: follow public discourse about tech executives and the Stargate project."""

__version__ = "0.1.0"
