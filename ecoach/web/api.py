"""JSON API (being written)."""

from aiohttp import web


def register(app: web.Application) -> None:
    """Placeholder until the API module lands."""
