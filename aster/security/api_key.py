"""API keys sent in a query parameter, a header or a cookie."""

from .._starlette_exceptions import StarletteHTTPException
from ..openapi.models import APIKey, APIKeyIn
from ..requests import HTTPConnection
from ..status import HTTP_401_UNAUTHORIZED
from .base import SecurityBase

__all__ = ["APIKeyBase", "APIKeyCookie", "APIKeyHeader", "APIKeyQuery"]


class APIKeyBase(SecurityBase):
    """What the three API key schemes share; they differ only in where they look."""

    model: APIKey

    def __init__(
        self,
        location: APIKeyIn,
        name: str,
        description: str | None,
        scheme_name: str | None,
        auto_error: bool,
    ) -> None:
        self.auto_error = auto_error
        self.model = APIKey(**{"in": location}, name=name, description=description)
        self.scheme_name = scheme_name or type(self).__name__

    def make_not_authenticated_error(self) -> StarletteHTTPException:
        """The error for a missing key; override it to answer differently (e.g. a 403).

        A 401 must carry a ``WWW-Authenticate`` challenge (RFC 9110 §15.5.2), and API keys
        have no standard one, so the challenge is the custom ``APIKey``.
        """
        return StarletteHTTPException(
            status_code=HTTP_401_UNAUTHORIZED,
            detail="Not authenticated",
            headers={"WWW-Authenticate": "APIKey"},
        )

    def check_api_key(self, api_key: str | None) -> str | None:
        """The key, or ``None``/the error when it is missing or empty."""
        return self._present_or_not_authenticated(api_key)


class _APIKeyAt(APIKeyBase):
    """An API key scheme whose location is fixed by the subclass."""

    location: APIKeyIn

    def __init__(
        self,
        *,
        name: str,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(
            location=self.location,
            name=name,
            scheme_name=scheme_name,
            description=description,
            auto_error=auto_error,
        )


class APIKeyQuery(_APIKeyAt):
    """An API key in the query parameter ``name``; the dependency result is the key."""

    location = APIKeyIn.query

    async def __call__(self, request: HTTPConnection) -> str | None:
        return self.check_api_key(request.query_params.get(self.model.name))


class APIKeyHeader(_APIKeyAt):
    """An API key in the header ``name``; the dependency result is the key."""

    location = APIKeyIn.header

    async def __call__(self, request: HTTPConnection) -> str | None:
        return self.check_api_key(request.headers.get(self.model.name))


class APIKeyCookie(_APIKeyAt):
    """An API key in the cookie ``name``; the dependency result is the key."""

    location = APIKeyIn.cookie

    async def __call__(self, request: HTTPConnection) -> str | None:
        return self.check_api_key(request.cookies.get(self.model.name))
