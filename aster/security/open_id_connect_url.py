"""OpenID Connect, as far as documenting it and reading the ``Authorization`` header."""

from .._starlette_exceptions import StarletteHTTPException
from ..openapi.models import OpenIdConnect as OpenIdConnectModel
from ..requests import HTTPConnection
from ..status import HTTP_401_UNAUTHORIZED
from .base import SecurityBase

__all__ = ["OpenIdConnect"]


class OpenIdConnect(SecurityBase):
    """OpenID Connect with discovery at ``openIdConnectUrl``; the result is the whole
    ``Authorization`` header value.

    The URL is only documented (OpenAPI): nothing is fetched or verified here, that is left to
    the application (e.g. a subclass).
    """

    model: OpenIdConnectModel

    def __init__(
        self,
        *,
        openIdConnectUrl: str,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        self.model = OpenIdConnectModel(openIdConnectUrl=openIdConnectUrl, description=description)
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error

    def make_not_authenticated_error(self) -> StarletteHTTPException:
        """The error for a missing header; override it to answer differently (e.g. a 403)."""
        return StarletteHTTPException(
            status_code=HTTP_401_UNAUTHORIZED,
            detail="Not authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )

    async def __call__(self, request: HTTPConnection) -> str | None:
        return self._present_or_not_authenticated(request.headers.get("Authorization"))
