"""Constants shared by OpenAPI schema generation (same values as ``fastapi.openapi.constants``)."""

from __future__ import annotations

#: Methods whose operations may document a request body.
METHODS_WITH_BODY = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}
#: Where component schemas live in the document, and how references to them are spelled.
REF_PREFIX = "#/components/schemas/"
REF_TEMPLATE = "#/components/schemas/{model}"
