"""A small API whose /docs and /redoc the docs tests load (tests/test_docs_*.py).

- ``GET /items``: the stored items (``?limit=``), summary "List items".
- ``GET /items/{item_id}``: one item, 404 if unknown, summary "Read an item".
- ``POST /items``: a JSON body (``Item``) in, the item with its new id out (201).
- ``DELETE /items/{item_id}``: 204, summary "Delete an item".

``cdn_app`` has the same routes but ``docs_cdn=True``: its pages load Swagger UI and
ReDoc from the CDN, which the browser test uses to prove its network really is cut off.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from aster import APIRouter, FastAPI, HTTPException, Query

router = APIRouter(tags=["items"])


class Item(BaseModel):
    name: str = Field(examples=["hammer"])
    price: float = Field(gt=0, examples=[9.5])


class StoredItem(Item):
    id: int


ITEMS: dict[int, StoredItem] = {
    1: StoredItem(id=1, name="hammer", price=9.5),
    2: StoredItem(id=2, name="nails", price=0.25),
}


@router.get("/items", summary="List items")
async def list_items(limit: Annotated[int, Query(ge=1)] = 10) -> list[StoredItem]:
    return list(ITEMS.values())[:limit]


@router.get("/items/{item_id}", summary="Read an item")
async def read_item(item_id: int) -> StoredItem:
    if item_id not in ITEMS:
        raise HTTPException(status_code=404, detail="Item not found")
    return ITEMS[item_id]


@router.post("/items", summary="Create an item", status_code=201)
async def create_item(item: Item) -> StoredItem:
    stored = StoredItem(id=max(ITEMS, default=0) + 1, **item.model_dump())
    ITEMS[stored.id] = stored
    return stored


@router.delete("/items/{item_id}", summary="Delete an item", status_code=204)
async def delete_item(item_id: int) -> None:
    ITEMS.pop(item_id, None)


INFO = {"title": "Docs Demo", "version": "1.2.3", "description": "Items, for the docs tests."}
app = FastAPI(**INFO)
app.include_router(router)
cdn_app = FastAPI(**INFO, docs_cdn=True)
cdn_app.include_router(router)
