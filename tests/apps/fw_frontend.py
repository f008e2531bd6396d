"""A built frontend behind ``aster run``, for tests/test_frontend_server.py.

The build lives in the directory named by ``FW_FRONTEND_DIR`` (the test writes it):

- ``site/``, served at ``/`` with the SPA fallback (``index.html`` for navigations);
- ``admin/``, served at ``/admin`` by a router included with a dependency that wants
  the cookie ``session=ok``, and with the ``404.html`` page as fallback;
- ``GET /api/items`` and ``GET /api/`` are path operations; they win over any file.
"""

from __future__ import annotations

import os
from pathlib import Path

from aster import APIRouter, Depends, FastAPI, HTTPException, Request

ROOT = Path(os.environ["FW_FRONTEND_DIR"])


def require_session(request: Request) -> None:
    if request.cookies.get("session") != "ok":
        raise HTTPException(status_code=401, detail="log in first")


app = FastAPI()


@app.get("/api/items")
def items() -> list[int]:
    return [1, 2, 3]


@app.get("/api/")
def api_root() -> dict[str, str]:
    return {"api": "root"}


app.frontend("/", directory=ROOT / "site", fallback="index.html")

admin = APIRouter()
admin.frontend("/", directory=ROOT / "admin", fallback="404.html")
app.include_router(admin, prefix="/admin", dependencies=[Depends(require_session)])
