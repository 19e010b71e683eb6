"""ecoach: a self-hostable practice for asynchronous e-coaching."""

__version__ = "0.1.0"
