"""StaticFiles behind ``aster run``, for tests/test_staticfiles_server.py.

The files live in the directory named by ``FW_STATIC_DIR`` (the test writes them
to a temporary directory, with fixed modification times):

- ``/static``: ``StaticFiles(directory=$FW_STATIC_DIR/static)``; the directory's
  parent holds ``secret.txt``, which must never be reachable from here.
- ``/site``: ``StaticFiles(directory=$FW_STATIC_DIR/site, html=True)``: index
  pages, directory redirects and the ``404.html`` page.
"""

from __future__ import annotations

import os
from pathlib import Path

from aster import FastAPI
from aster.staticfiles import StaticFiles

ROOT = Path(os.environ["FW_STATIC_DIR"])

app = FastAPI()
app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")
app.mount("/site", StaticFiles(directory=ROOT / "site", html=True), name="site")
