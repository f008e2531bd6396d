"""Parsing of ``Authorization`` header values."""

__all__ = ["get_authorization_scheme_param"]


def get_authorization_scheme_param(authorization_header_value: str | None) -> tuple[str, str]:
    """Split ``"<scheme> <credentials>"`` at the first space: ``("Bearer", "abc")``.

    A missing or empty value gives ``("", "")``; a value without a space gives the whole
    value as the scheme and ``""`` as the credentials.  The scheme is returned as sent (callers
    compare it case-insensitively) and the credentials lose surrounding whitespace.
    """
    if not authorization_header_value:
        return "", ""
    scheme, _, param = authorization_header_value.partition(" ")
    return scheme, param.strip()
