"""OAuth2 (RFC 6749): bearer-token schemes, the password-flow login form, and ``SecurityScopes``."""

from typing import Annotated, Any

from ..exceptions import HTTPException
from ..openapi.models import OAuth2 as OAuth2Model
from ..openapi.models import OAuthFlows as OAuthFlowsModel
from ..param_functions import Form
from ..requests import HTTPConnection
from ..status import HTTP_401_UNAUTHORIZED
from .base import SecurityBase
from .utils import get_authorization_scheme_param

__all__ = [
    "OAuth2",
    "OAuth2AuthorizationCodeBearer",
    "OAuth2PasswordBearer",
    "OAuth2PasswordRequestForm",
    "OAuth2PasswordRequestFormStrict",
    "SecurityScopes",
]


class OAuth2PasswordRequestForm:
    """The form of the OAuth2 password flow's token request, as a dependency class.

    Use it as ``Annotated[OAuth2PasswordRequestForm, Depends()]``: the fields are read from
    the form body.  The spec requires ``grant_type=password``, but this class lets it be
    omitted (any other value is a 422); ``OAuth2PasswordRequestFormStrict`` requires it.
    ``scope`` is one space-separated string; the instance offers it split, as ``scopes``.
    """

    def __init__(
        self,
        *,
        grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
        username: Annotated[str, Form()],
        password: Annotated[str, Form(json_schema_extra={"format": "password"})],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form(json_schema_extra={"format": "password"})] = None,
    ) -> None:
        self.grant_type = grant_type
        self.username = username
        self.password = password
        self.scopes = scope.split()
        self.client_id = client_id
        self.client_secret = client_secret


class OAuth2PasswordRequestFormStrict(OAuth2PasswordRequestForm):
    """``OAuth2PasswordRequestForm`` that requires ``grant_type=password``, as the spec says."""

    def __init__(
        self,
        grant_type: Annotated[str, Form(pattern="^password$")],
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form()] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )


class OAuth2(SecurityBase):
    """The base of the OAuth2 schemes; ``flows`` describes them for OpenAPI.

    On its own it requires an ``Authorization`` header and returns its whole value.
    """

    model: OAuth2Model

    def __init__(
        self,
        *,
        flows: OAuthFlowsModel | dict[str, dict[str, Any]] = OAuthFlowsModel(),
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        # A dict of flows is validated into ``OAuthFlows`` by the model.
        self.model = OAuth2Model(flows=flows, description=description)  # type: ignore[arg-type]
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error

    def make_not_authenticated_error(self) -> HTTPException:
        """The error for a missing token; override it to answer differently (e.g. a 403).

        OAuth2 does not define a challenge, since tokens need not be bearer tokens; ``Bearer``
        is by far the most common, so it is the one sent.
        """
        return HTTPException(
            status_code=HTTP_401_UNAUTHORIZED,
            detail="Not authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )

    async def __call__(self, request: HTTPConnection) -> str | None:
        return self._present_or_not_authenticated(request.headers.get("Authorization"))

    def _bearer_token(self, request: HTTPConnection) -> str | None:
        """The token of an ``Authorization: Bearer <token>`` header (may be ``""``)."""
        authorization = request.headers.get("Authorization")
        scheme, token = get_authorization_scheme_param(authorization)
        if not authorization or scheme.lower() != "bearer":
            if self.auto_error:
                raise self.make_not_authenticated_error()
            return None
        return token


class OAuth2PasswordBearer(OAuth2):
    """A bearer token obtained with the password flow at ``tokenUrl``; the result is the token.

    ``tokenUrl`` (relative URLs resolve against the docs page) is the operation that takes an
    ``OAuth2PasswordRequestForm``; ``scopes`` maps each scope to its description.
    """

    def __init__(
        self,
        tokenUrl: str,
        scheme_name: str | None = None,
        scopes: dict[str, str] | None = None,
        description: str | None = None,
        auto_error: bool = True,
        refreshUrl: str | None = None,
    ) -> None:
        password_flow: Any = {
            "tokenUrl": tokenUrl,
            "refreshUrl": refreshUrl,
            "scopes": scopes or {},
        }
        super().__init__(
            flows=OAuthFlowsModel(password=password_flow),
            scheme_name=scheme_name,
            description=description,
            auto_error=auto_error,
        )

    async def __call__(self, request: HTTPConnection) -> str | None:
        return self._bearer_token(request)


class OAuth2AuthorizationCodeBearer(OAuth2):
    """A bearer token obtained with the authorization-code flow; the result is the token."""

    def __init__(
        self,
        authorizationUrl: str,
        tokenUrl: str,
        refreshUrl: str | None = None,
        scheme_name: str | None = None,
        scopes: dict[str, str] | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        code_flow: Any = {
            "authorizationUrl": authorizationUrl,
            "tokenUrl": tokenUrl,
            "refreshUrl": refreshUrl,
            "scopes": scopes or {},
        }
        super().__init__(
            flows=OAuthFlowsModel(authorizationCode=code_flow),
            scheme_name=scheme_name,
            description=description,
            auto_error=auto_error,
        )

    async def __call__(self, request: HTTPConnection) -> str | None:
        return self._bearer_token(request)


class SecurityScopes:
    """The OAuth2 scopes required along a dependency chain, injected by type.

    Declare a parameter of this type in a dependency and it receives the scopes of every
    ``Security(..., scopes=[...])`` from the endpoint down to that dependency, so one token
    check can verify them all.
    """

    def __init__(self, scopes: list[str] | None = None) -> None:
        #: Each required scope, in declaration order, without duplicates.
        self.scopes: list[str] = scopes or []
        #: The same, space-separated, as OAuth2 spells them (for a ``WWW-Authenticate`` scope).
        self.scope_str: str = " ".join(self.scopes)
