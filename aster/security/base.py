"""The marker base class of security schemes."""

from ..openapi.models import SecurityBase as SecurityBaseModel

__all__ = ["SecurityBase"]


class SecurityBase:
    """Base of every security scheme dependency.

    The dependency system recognises an instance of a subclass as a security scheme: its
    result then depends on the OAuth2 scopes (they join the per-request cache key), and the
    OpenAPI generator lists ``model`` under ``components.securitySchemes`` as ``scheme_name``.
    """

    model: SecurityBaseModel
    scheme_name: str
