"""The HTML pages of the interactive docs: Swagger UI, ReDoc and Swagger's OAuth2 redirect.

Same functions, keyword arguments and defaults as ``fastapi.openapi.docs`` (0.165), so
code that builds its own docs pages keeps working.  The defaults point at the public
CDN, as in FastAPI; the pages an aster app serves by itself pass the URLs of the
copies it ships instead (see :mod:`aster.openapi.setup`).
"""

from __future__ import annotations

import json
from typing import Any

from .._response import HTMLResponse
from ..encoders import jsonable_encoder

__all__ = [
    "get_redoc_html",
    "get_swagger_ui_html",
    "get_swagger_ui_oauth2_redirect_html",
    "swagger_ui_default_parameters",
]

SWAGGER_JS_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"
SWAGGER_CSS_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"
REDOC_JS_CDN = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"
FAVICON_CDN = "https://fastapi.tiangolo.com/img/favicon.png"
GOOGLE_FONTS_CSS = (
    "https://fonts.googleapis.com/css?family=Montserrat:300,400,700|Roboto:300,400,700"
)

#: The Swagger UI options every page starts from; ``swagger_ui_parameters`` overrides them.
swagger_ui_default_parameters: dict[str, Any] = {
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": True,
    "showExtensions": True,
    "showCommonExtensions": True,
}

_SCRIPT_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _script_json(value: Any) -> str:
    """JSON that is safe inside ``<script>``: no ``</script>`` or ``<!--`` can be formed."""
    return json.dumps(value).translate(_SCRIPT_ESCAPES)


def get_swagger_ui_html(
    *,
    openapi_url: str,
    title: str,
    swagger_js_url: str = SWAGGER_JS_CDN,
    swagger_css_url: str = SWAGGER_CSS_CDN,
    swagger_favicon_url: str = FAVICON_CDN,
    oauth2_redirect_url: str | None = None,
    init_oauth: dict[str, Any] | None = None,
    swagger_ui_parameters: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The Swagger UI page loading ``openapi_url``.

    Each option of ``swagger_ui_default_parameters`` updated with ``swagger_ui_parameters``
    is written as one ``"key": value,`` line of the ``SwaggerUIBundle({...})`` call, so
    any Swagger UI option (``syntaxHighlight``, ``deepLinking``…) can be set from Python.
    """
    options = {**swagger_ui_default_parameters, **(swagger_ui_parameters or {})}
    lines = [
        f"{_script_json(key)}: {_script_json(jsonable_encoder(value))},"
        for key, value in options.items()
    ]
    if oauth2_redirect_url:
        lines.append(f"oauth2RedirectUrl: window.location.origin + '{oauth2_redirect_url}',")
    config = "\n        ".join(lines)
    oauth = (
        f"\n    ui.initOAuth({_script_json(jsonable_encoder(init_oauth))})" if init_oauth else ""
    )
    html = f"""<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    <link type="text/css" rel="stylesheet" href="{swagger_css_url}">
    <link rel="shortcut icon" href="{swagger_favicon_url}">
    <title>{title}</title>
</head>
<body>
    <div id="swagger-ui"></div>
    <script src="{swagger_js_url}"></script>
    <script>
    const ui = SwaggerUIBundle({{
        url: '{openapi_url}',
        {config}
        presets: [
            SwaggerUIBundle.presets.apis,
            SwaggerUIBundle.SwaggerUIStandalonePreset
        ],
    }});{oauth}
    </script>
</body>
</html>
"""
    return HTMLResponse(html)


def get_redoc_html(
    *,
    openapi_url: str,
    title: str,
    redoc_js_url: str = REDOC_JS_CDN,
    redoc_favicon_url: str = FAVICON_CDN,
    with_google_fonts: bool = True,
) -> HTMLResponse:
    """The ReDoc page rendering ``openapi_url``.

    ``with_google_fonts`` adds the Montserrat/Roboto stylesheet from Google Fonts,
    which ReDoc's default theme names; without it the page needs no third party.
    """
    fonts = f'\n    <link href="{GOOGLE_FONTS_CSS}" rel="stylesheet">' if with_google_fonts else ""
    html = f"""<!DOCTYPE html>
<html>
<head>
    <title>{title}</title>
    <meta charset="utf-8"/>
    <meta name="viewport" content="width=device-width, initial-scale=1">{fonts}
    <link rel="shortcut icon" href="{redoc_favicon_url}">
    <style>
      body {{ margin: 0; padding: 0; }}
    </style>
</head>
<body>
    <noscript>
        ReDoc needs JavaScript to show this documentation. Please enable it.
    </noscript>
    <redoc spec-url="{openapi_url}"></redoc>
    <script src="{redoc_js_url}"> </script>
</body>
</html>
"""
    return HTMLResponse(html)


# The page an OAuth2 provider redirects the Swagger UI login popup to.  It reads the
# provider's answer (the fragment for the implicit flow, else the query string), hands
# it to the Swagger UI window that opened the popup (``window.opener``), and closes.
# For the authorization-code flows a missing ``code`` is reported as an error and a
# ``state`` that does not round-trip as a warning, as Swagger UI's own page does.
_OAUTH2_REDIRECT_HTML = """<!doctype html>
<html lang="en-US">
<head>
    <title>Swagger UI: OAuth2 Redirect</title>
</head>
<body>
<script>
    'use strict';
    function readAnswer() {
        var hash = window.location.hash;
        var raw = /code|token|error/.test(hash)
            ? hash.substring(1).replace('?', '&')
            : window.location.search.substring(1);
        var answer = {};
        if (!raw) {
            return answer;
        }
        raw.split('&').forEach(function (pair) {
            var at = pair.indexOf('=');
            var key = at < 0 ? pair : pair.substring(0, at);
            var value = at < 0 ? '' : pair.substring(at + 1);
            answer[key] = decodeURIComponent(value);
        });
        return answer;
    }

    function finish() {
        var oauth2 = window.opener.swaggerUIRedirectOauth2;
        var expectedState = oauth2.state;
        var redirectUrl = oauth2.redirectUrl;
        var answer = readAnswer();
        var isValid = answer.state === expectedState;
        var flow = oauth2.auth.schema.get('flow');
        var codeFlow = flow === 'accessCode' || flow === 'authorizationCode'
            || flow === 'authorization_code';

        if (codeFlow && !oauth2.auth.code) {
            if (!isValid) {
                oauth2.errCb({
                    authId: oauth2.auth.name,
                    source: 'auth',
                    level: 'warning',
                    message: 'Authorization may be unsafe: the state sent to the '
                        + 'authorization server did not come back unchanged.'
                });
            }
            if (answer.code) {
                delete oauth2.state;
                oauth2.auth.code = answer.code;
                oauth2.callback({auth: oauth2.auth, redirectUrl: redirectUrl});
            } else {
                var message = '[Authorization failed]: no accessCode received from the server.';
                if (answer.error) {
                    message = '[' + answer.error + ']: '
                        + (answer.error_description
                            ? answer.error_description + '. '
                            : 'no accessCode received from the server. ')
                        + (answer.error_uri ? 'More info: ' + answer.error_uri : '');
                }
                oauth2.errCb({
                    authId: oauth2.auth.name, source: 'auth', level: 'error', message: message
                });
            }
        } else {
            oauth2.callback({
                auth: oauth2.auth, token: answer, isValid: isValid, redirectUrl: redirectUrl
            });
        }
        window.close();
    }

    if (document.readyState !== 'loading') {
        finish();
    } else {
        document.addEventListener('DOMContentLoaded', finish);
    }
</script>
</body>
</html>
"""


def get_swagger_ui_oauth2_redirect_html() -> HTMLResponse:
    """The OAuth2 redirect page Swagger UI's login popup lands on (``oauth2RedirectUrl``)."""
    return HTMLResponse(content=_OAUTH2_REDIRECT_HTML)
