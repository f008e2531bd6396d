"""fastapi-pagination on aster: it appends a dependency to built routes (add_pagination)."""

from aster import compat

compat.install()

from fastapi import APIRouter, FastAPI  # noqa: E402
from fastapi_pagination import Page, add_pagination, paginate  # noqa: E402
from fastapi_pagination.utils import disable_installed_extensions_check  # noqa: E402
from pydantic import BaseModel  # noqa: E402

disable_installed_extensions_check()


class User(BaseModel):
    id: int
    name: str


USERS = [User(id=i, name=f"user{i}") for i in range(1, 24)]
app = FastAPI()
router = APIRouter(prefix="/v1")


@app.get("/users", response_model=Page[User])
async def users():
    return paginate(USERS)


@router.get("/users", response_model=Page[User])
def users_v1():  # a sync endpoint, in an included router
    return paginate(USERS)


app.include_router(router)
add_pagination(app)
