"""Exceptions raised by the library; the CLI and the app turn them into messages."""

# What to install for everything that needs PyTorch (the trained reader on PyTorch, training,
# sentence-transformers models).
INSTALL_HINT = "pip install 'archive-qa[st]'"


class QAError(Exception):
    """Base class for every error this package raises on purpose."""


class ReadError(QAError):
    """A source file could not be read or decoded."""


class ModelError(QAError):
    """An embedding or reader model is missing or unusable."""


class IndexError_(QAError):
    """An index is missing, corrupt, or was built with another model."""


class QueryError(QAError):
    """A question or query that cannot be answered as given (empty, too long…)."""


class DatasetError(QAError):
    """An evaluation dataset in an unknown or broken format."""
