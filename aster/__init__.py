"""aster: a FastAPI-compatible framework and a fast, hardened ASGI server in one package."""

__version__ = "0.1.0"

from .server import Config, Server, run

__all__ = ["Config", "Server", "__version__", "run"]
