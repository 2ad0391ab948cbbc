"""aggregator: follow podcasts, keep their episodes and sponsors, publish one merged feed."""

__version__ = "0.1.0"
