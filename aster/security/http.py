"""HTTP authentication schemes (RFC 9110 §11): Basic, Bearer, Digest, or any other scheme."""

import binascii
from base64 import b64decode

from pydantic import BaseModel

from ..exceptions import HTTPException
from ..openapi.models import HTTPBase as HTTPBaseModel
from ..openapi.models import HTTPBearer as HTTPBearerModel
from ..requests import HTTPConnection
from ..status import HTTP_401_UNAUTHORIZED
from .base import SecurityBase
from .utils import get_authorization_scheme_param

__all__ = [
    "HTTPAuthorizationCredentials",
    "HTTPBase",
    "HTTPBasic",
    "HTTPBasicCredentials",
    "HTTPBearer",
    "HTTPDigest",
]


class HTTPBasicCredentials(BaseModel):
    """What ``HTTPBasic`` gives the endpoint: the decoded user name and password."""

    username: str
    password: str


class HTTPAuthorizationCredentials(BaseModel):
    """An ``Authorization`` header split at its first space.

    ``Authorization: Bearer abc123`` gives ``scheme="Bearer"``, ``credentials="abc123"``.
    """

    scheme: str
    credentials: str


class HTTPBase(SecurityBase):
    """An HTTP authentication scheme named ``scheme``; also the base of the specific ones.

    Used directly, it accepts an ``Authorization`` header with any scheme, as long as it has
    credentials.
    """

    model: HTTPBaseModel

    def __init__(
        self,
        *,
        scheme: str,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        self.model = HTTPBaseModel(scheme=scheme, description=description)
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error

    def make_authenticate_headers(self) -> dict[str, str]:
        """The ``WWW-Authenticate`` challenge of the 401: the scheme's name, capitalised."""
        return {"WWW-Authenticate": self.model.scheme.title()}

    def make_not_authenticated_error(self) -> HTTPException:
        """The error for missing or unusable credentials; override it to answer differently."""
        return HTTPException(
            status_code=HTTP_401_UNAUTHORIZED,
            detail="Not authenticated",
            headers=self.make_authenticate_headers(),
        )

    def _not_authenticated(self) -> None:
        """Raise the error when ``auto_error`` is set; the caller then returns ``None``."""
        if self.auto_error:
            raise self.make_not_authenticated_error()

    def _read_credentials(
        self, request: HTTPConnection, required_scheme: str | None
    ) -> HTTPAuthorizationCredentials | None:
        """The header's scheme and credentials, if both are there and the scheme is right.

        ``required_scheme`` is compared case-insensitively; ``None`` accepts any scheme.
        """
        authorization = request.headers.get("Authorization")
        scheme, credentials = get_authorization_scheme_param(authorization)
        if not (authorization and scheme and credentials):
            self._not_authenticated()
            return None
        if required_scheme is not None and scheme.lower() != required_scheme:
            self._not_authenticated()
            return None
        return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        return self._read_credentials(request, None)


class HTTPBasic(HTTPBase):
    """HTTP Basic authentication (RFC 7617); the dependency result is ``HTTPBasicCredentials``.

    With ``realm``, the challenge is ``Basic realm="<realm>"``, which makes browsers show
    their login dialog.  Credentials that are sent but cannot be decoded (bad base64, not
    ASCII, no ``:``) are always an error, even with ``auto_error=False``: they are not missing,
    they are wrong.
    """

    def __init__(
        self,
        *,
        scheme_name: str | None = None,
        realm: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(
            scheme="basic", scheme_name=scheme_name, description=description, auto_error=auto_error
        )
        self.realm = realm

    def make_authenticate_headers(self) -> dict[str, str]:
        if self.realm:
            return {"WWW-Authenticate": f'Basic realm="{self.realm}"'}
        return {"WWW-Authenticate": "Basic"}

    async def __call__(  # type: ignore[override]
        self, request: HTTPConnection
    ) -> HTTPBasicCredentials | None:
        authorization = request.headers.get("Authorization")
        scheme, param = get_authorization_scheme_param(authorization)
        if not authorization or scheme.lower() != "basic":
            self._not_authenticated()
            return None
        try:
            decoded = b64decode(param).decode("ascii")
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            raise self.make_not_authenticated_error() from exc
        username, colon, password = decoded.partition(":")
        if not colon:
            raise self.make_not_authenticated_error()
        return HTTPBasicCredentials(username=username, password=password)


class HTTPBearer(HTTPBase):
    """A bearer token in ``Authorization: Bearer <token>``; the result has the token as
    ``credentials``.  ``bearerFormat`` only documents the token's format in OpenAPI."""

    model: HTTPBearerModel

    def __init__(
        self,
        *,
        bearerFormat: str | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        self.model = HTTPBearerModel(bearerFormat=bearerFormat, description=description)
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        return self._read_credentials(request, "bearer")


class HTTPDigest(HTTPBase):
    """HTTP Digest (RFC 7616), only as far as reading the header: the result is the raw
    ``Digest`` credentials, to be verified by the application (e.g. in a subclass)."""

    def __init__(
        self,
        *,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(
            scheme="digest", scheme_name=scheme_name, description=description, auto_error=auto_error
        )

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        return self._read_credentials(request, "digest")
