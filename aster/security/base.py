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
    auto_error: bool  # set by the schemes that can refuse a request

    def _present_or_not_authenticated(self, value: str | None) -> str | None:
        """``value`` if it is there; if it is missing or empty, raise the scheme's
        ``make_not_authenticated_error()`` when ``auto_error`` is set, else give ``None``."""
        if value:
            return value
        if self.auto_error:
            raise self.make_not_authenticated_error()  # type: ignore[attr-defined]
        return None
