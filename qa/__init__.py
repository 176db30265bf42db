"""archive-qa: extractive question answering over a Chinese newspaper archive."""

__version__ = "0.1.0"
