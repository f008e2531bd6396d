"""The demo app's /docs and /redoc in a real headless Chromium, with every off-host request doomed.

The demo runs under a real ``aster run``; the browser setup, the DevTools network log and
the helpers are tests/test_docs_browser.py's (its proxy at 127.0.0.1:9 refuses anything
that is not the test server).  Swagger UI and ReDoc must render every demo operation from
the shipped bundles alone, and Swagger UI's "Try it out" must reach the live demo.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import test_docs_browser as browser
from tests.support import Running, serve
from tests.test_demo import DEMO, demo_env, login
from tests.test_docs_browser import (
    By,
    Network,
    console_errors,
    live_response,
    load,
    press,
    redoc_headings,
    screenshot,
    texts,
    try_it_out,
    wait_for,
)

# Importing that module skips this one too when selenium is missing; its pytestmark skips
# without chromium or chromedriver, and its module-scoped driver fixture is this module's.
pytestmark = browser.pytestmark
driver = browser.driver

# The operations in the demo's tag order (auth, notes, live, audit, meta), as rendered.
OPERATIONS = [
    ("auth", "POST", "/token", "Log in: a bearer token for a username and password"),
    ("auth", "GET", "/users/me", "Who the token belongs to"),
    ("notes", "GET", "/notes", "List and search notes"),
    ("notes", "POST", "/notes", "Create a note"),
    ("notes", "GET", "/notes/{note_id}", "Read a note"),
    ("notes", "DELETE", "/notes/{note_id}", "Delete one of your notes"),
    ("live", "GET", "/notes/feed", "Live feed of note events (Server-Sent Events)"),
    ("live", "GET", "/export.ndjson", "Export every note, one JSON line each"),
    ("live", "GET", "/clock", "The time, once a second, forever"),
    ("audit", "GET", "/audit", "Read the audit log"),
    ("meta", "GET", "/health", "Health, uptime and feed subscribers"),
]
TAGS = ["auth", "notes", "live", "audit", "meta"]
SUMMARIES = [summary for _, _, _, summary in OPERATIONS]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    db = tmp_path_factory.mktemp("demo-docs") / "notes.sqlite3"
    with serve(*DEMO, env=demo_env(db)) as running:
        yield running


@pytest.fixture(scope="module")
def note(server: Running) -> dict[str, Any]:
    """One note in the demo's database, written through the API."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        headers = login(client, "demo", "demo")
        response = client.post(
            "/notes", json={"text": "seen in Swagger UI", "tags": ["docs"]}, headers=headers
        )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def assert_stayed_on_host(chrome: Any, server: Running) -> Network:
    network = Network(chrome)
    assert network.requested
    assert network.off_host(server.url) == []
    assert all(
        url.startswith(("http://127.0.0.1:", "data:", "blob:http://127.0.0.1:", "chrome://"))
        for url in network.requested
    )
    return network


def click(chrome: Any, element: Any) -> None:
    """Click ``element`` once it is scrolled to the middle of the window, clear of the rest."""
    chrome.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def test_swagger_ui_renders_the_demo_offline(driver: Any, server: Running, tmp_path: Path) -> None:
    load(driver, f"{server.url}/docs")
    wait_for(
        driver,
        lambda c: len(c.find_elements(By.CSS_SELECTOR, ".opblock")) == len(OPERATIONS),
        f"{len(OPERATIONS)} operations",
    )
    assert driver.title == "aster notes - Swagger UI"
    assert driver.find_element(By.CSS_SELECTOR, ".info .title").text.startswith("aster notes")
    assert "log in as demo / demo" in driver.find_element(By.CSS_SELECTOR, ".info").text
    tags = driver.find_elements(By.CSS_SELECTOR, ".opblock-tag")
    assert [tag.get_attribute("data-tag") for tag in tags] == TAGS
    assert "trade a password for a token" in tags[0].text  # openapi_tags descriptions
    summaries = texts(driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-description"))
    assert summaries == SUMMARIES
    methods = texts(driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-method"))
    assert methods == [method for _, method, _, _ in OPERATIONS]
    paths = [
        element.get_attribute("data-path")
        for element in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    ]
    assert paths == [path for _, _, path, _ in OPERATIONS]
    # The OAuth2 password flow gives the page its Authorize button; the protected
    # operations show a padlock.
    assert driver.find_elements(By.CSS_SELECTOR, ".auth-wrapper .authorize")
    assert len(driver.find_elements(By.CSS_SELECTOR, ".opblock .authorization__btn")) == 4
    screenshot(driver, tmp_path / "demo-swagger-ui.png")

    network = assert_stayed_on_host(driver, server)
    assert network.failed == {}
    assert f"{server.url}/openapi.json" in network.requested
    assert any("/_aster/docs/swagger-ui-dist@5." in url for url in network.requested)
    assert console_errors(driver) == []


def test_swagger_ui_try_it_out_lists_the_live_notes(
    driver: Any, server: Running, note: dict[str, Any], tmp_path: Path
) -> None:
    block = "operations-notes-list_notes_notes_get"
    load(driver, f"{server.url}/docs#/notes/list_notes_notes_get")
    operation = wait_for(
        driver, lambda c: c.find_elements(By.ID, block), "the List and search notes operation"
    )[0]
    try_it_out(driver, operation)
    press(driver, operation, "button.execute", "Execute")
    status, body = live_response(driver, operation)
    assert status == "200"
    assert body == [note]
    request_url = operation.find_element(By.CSS_SELECTOR, ".request-url pre").text
    assert request_url == f"{server.url}/notes?limit=20"
    screenshot(driver, tmp_path / "demo-swagger-ui-executed.png")

    network = assert_stayed_on_host(driver, server)
    assert f"{server.url}/notes?limit=20" in network.requested
    server.wait_for_log(r'"GET /notes\?limit=20 HTTP/1\.1" 200 ')
    assert console_errors(driver) == []


def test_redoc_renders_the_demo_offline(driver: Any, server: Running, tmp_path: Path) -> None:
    headings = redoc_headings(driver, f"{server.url}/redoc", SUMMARIES)
    expected: list[str] = []
    for tag, _, _, summary in OPERATIONS:
        if tag not in expected:
            expected.append(tag)  # each tag's heading, then its operations
        expected.append(summary)
    assert headings == expected
    assert driver.find_element(By.CSS_SELECTOR, "h1").text == "aster notes (2.0)"
    assert driver.title == "aster notes - ReDoc"
    menu = driver.find_element(By.CSS_SELECTOR, "[role='menu'], .menu-content")
    assert all(tag in menu.text.lower() for tag in TAGS)
    # The security scheme and the SSE operation are documented (ReDoc 2 predates OpenAPI
    # 3.2's itemSchema, so it shows no sample of the events).
    page = driver.find_element(By.TAG_NAME, "body").text
    assert "OAuth2PasswordBearer" in page
    assert "Note creations and deletions as they happen; a ready event first." in page
    screenshot(driver, tmp_path / "demo-redoc.png")

    network = assert_stayed_on_host(driver, server)
    assert network.failed == {}
    assert any("/_aster/docs/redoc@2." in url for url in network.requested)
    assert console_errors(driver) == []


def test_swagger_ui_authorizes_with_the_password_flow(
    driver: Any, server: Running, tmp_path: Path
) -> None:
    """Authorize as demo / demo in the page, then call a protected operation with the token."""
    load(driver, f"{server.url}/docs")
    wait_for(driver, lambda c: c.find_elements(By.CSS_SELECTOR, ".opblock"), "the operations")
    click(driver, driver.find_element(By.CSS_SELECTOR, ".auth-wrapper .authorize"))
    dialog = wait_for(driver, lambda c: c.find_elements(By.CSS_SELECTOR, ".modal-ux"), "dialog")[0]
    assert "OAuth2PasswordBearer (OAuth2, password)" in dialog.text
    assert "Token URL: token" in dialog.text
    dialog.find_element(By.ID, "oauth_username").send_keys("demo")
    dialog.find_element(By.ID, "oauth_password").send_keys("demo")
    click(driver, dialog.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper .authorize"))
    wait_for(driver, lambda c: "Authorized" in dialog.text, "the token")
    screenshot(driver, tmp_path / "demo-swagger-ui-authorized.png")
    click(driver, dialog.find_element(By.CSS_SELECTOR, ".close-modal"))
    server.wait_for_log(r'"POST /token HTTP/1\.1" 200 ')

    wait_for(driver, lambda c: not c.find_elements(By.CSS_SELECTOR, ".modal-ux"), "no dialog")

    operation = driver.find_element(By.ID, "operations-auth-me_users_me_get")
    click(driver, operation.find_element(By.CSS_SELECTOR, ".opblock-summary-control"))
    press(driver, operation, ".try-out__btn", "Try it out", click)
    press(driver, operation, "button.execute", "Execute", click)
    status, body = live_response(driver, operation)
    assert status == "200"
    assert body == {"username": "demo"}
    curl = operation.find_element(By.CSS_SELECTOR, ".curl-command").text
    assert "Authorization: Bearer " in curl
    screenshot(driver, tmp_path / "demo-swagger-ui-me.png")
    assert_stayed_on_host(driver, server)
    server.wait_for_log(r'"GET /users/me HTTP/1\.1" 200 ')
    assert console_errors(driver) == []
