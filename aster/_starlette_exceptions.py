"""``starlette.exceptions`` under ``aster.compat``: the routing layer's base classes."""

from .exceptions import StarletteDeprecationWarning
from .exceptions import StarletteHTTPException as HTTPException
from .exceptions import StarletteWebSocketException as WebSocketException

__all__ = ["HTTPException", "StarletteDeprecationWarning", "WebSocketException"]
