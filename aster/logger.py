"""``fastapi.logger``: the ``"fastapi"`` logger, which FastAPI logs to and apps configure."""

import logging

logger = logging.getLogger("fastapi")
