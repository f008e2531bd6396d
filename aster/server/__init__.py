"""The aster ASGI server: HTTP/1.1 (and later HTTP/2 and WebSockets) for any ASGI app."""

from .config import Config, ConfigError
from .main import main, run
from .server import Server

__all__ = ["Config", "ConfigError", "Server", "main", "run"]
