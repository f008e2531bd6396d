"""/docs and /redoc in a real headless Chromium, with every off-host request doomed.

Chromium runs with ``--proxy-server=127.0.0.1:9`` (nothing listens there) and only
127.0.0.1 bypassing it, so a page needing a CDN cannot load.  Each test reads the
DevTools network events (``goog:loggingPrefs``) and asserts every URL the page asked
for was the test server's, then checks what Swagger UI and ReDoc actually rendered.
The control test loads the ``docs_cdn=True`` app and sees it fail, proving the cut.

Driven by Selenium with Debian's ``chromium`` and ``chromedriver`` (``make sysdeps``);
the explicit driver path keeps Selenium Manager from downloading anything.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Running, serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make sysdeps)"),
    pytest.mark.skipif(
        CHROMEDRIVER is None, reason="chromedriver is not installed (chromium-driver; make sysdeps)"
    ),
]

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (test extra) is missing")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SUMMARIES = ["List items", "Create an item", "Read an item", "Delete an item"]
WAIT = 20.0


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve("tests.apps.fw_docs:app") as running:
        yield running


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests may run as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1600",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        # Off-host requests go to a proxy that refuses them; the app's own do not.
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=127.0.0.1",
        # Chromium's own background traffic (updates, sync…) is not the page's.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        # The HTTPS tests (test_http2_browser.py) serve a trustme certificate.
        "--ignore-certificate-errors",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    chrome.set_page_load_timeout(WAIT)
    try:
        yield chrome
    finally:
        chrome.quit()


class Network:
    """What a page load asked for, from the DevTools events Chromium logged."""

    def __init__(self, chrome: Any) -> None:
        self.requested: list[str] = []
        self.failed: dict[str, str] = {}
        urls: dict[str, str] = {}
        for entry in chrome.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                urls[params["requestId"]] = params["request"]["url"]
                self.requested.append(params["request"]["url"])
            elif message["method"] == "Network.loadingFailed":
                url = urls.get(params["requestId"], params["requestId"])
                self.failed[url] = params.get("errorText", "")

    def off_host(self, origin: str) -> list[str]:
        """Requests that left ``origin``: anything but its URLs, ``data:`` and its blobs.

        ``chrome://`` URLs are the browser's built-in resources (e.g. the clear icon of a
        search input), served from inside chromium, never from the network.
        """
        local = (f"{origin}/", "data:", f"blob:{origin}/", "chrome://")
        return [url for url in self.requested if not (url.startswith(local) or url == origin)]


def load(chrome: Any, url: str) -> None:
    chrome.get_log("performance")  # drop the events of earlier pages
    chrome.get_log("browser")
    chrome.get(url)


def wait_for(chrome: Any, find: Callable[[Any], Any], what: str) -> Any:
    try:
        return WebDriverWait(chrome, WAIT).until(lambda c: find(c) or None)
    except Exception as exc:
        raise AssertionError(f"timed out waiting for {what}; page:\n{chrome.page_source}") from exc


def texts(elements: list[WebElement]) -> list[str]:
    return [element.text.strip() for element in elements]


def redoc_headings(chrome: Any, url: str, summaries: list[str]) -> list[str]:
    """Load ReDoc at ``url``, wait until it shows every operation; its non-empty h2 texts."""
    load(chrome, url)
    wait_for(
        chrome,
        lambda c: set(summaries) <= set(texts(c.find_elements(By.CSS_SELECTOR, "h2"))),
        "ReDoc's operation headings",
    )
    return [text for text in texts(chrome.find_elements(By.CSS_SELECTOR, "h2")) if text]


def console_errors(chrome: Any) -> list[str]:
    """The page's console errors (chromium's own ``chrome://`` resources are not the page's)."""
    return [
        entry["message"]
        for entry in chrome.get_log("browser")
        if entry["level"] == "SEVERE" and not entry["message"].startswith("chrome://")
    ]


def screenshot(chrome: Any, path: Path, min_size: int = 10_000) -> None:
    """Save a PNG; a rendered page is well over ``min_size`` bytes, a blank one is not."""
    assert chrome.save_screenshot(str(path))
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > min_size


LIVE_STATUS = ".live-responses-table .response .response-col_status"
LIVE_BODY = ".live-responses-table .response-col_description pre"
#: How to press a button: ``click(chrome, button)``; ``None`` is a plain ``button.click()``.
Clicker = Callable[[Any, WebElement], Any] | None


def press(
    chrome: Any,
    operation: WebElement,
    selector: str,
    label: str,
    click: Clicker = None,
) -> None:
    """Wait for the operation's button ``selector``, check its label, and press it."""
    found = wait_for(chrome, lambda c: operation.find_elements(By.CSS_SELECTOR, selector), label)
    button = found[0]
    assert button.text == label
    if click is None:
        button.click()
    else:
        click(chrome, button)


def try_it_out(chrome: Any, operation: WebElement, click: Clicker = None) -> None:
    """Open the operation (a deep link may not have) and press "Try it out"."""
    if not operation.find_elements(By.CSS_SELECTOR, ".try-out__btn"):
        operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    press(chrome, operation, ".try-out__btn", "Try it out", click)


def live_response(chrome: Any, operation: WebElement) -> tuple[str, Any]:
    """The status and JSON body Swagger UI shows once "Execute" answered."""
    status = wait_for(
        chrome, lambda c: operation.find_elements(By.CSS_SELECTOR, LIVE_STATUS), "the live response"
    )[0]
    body = operation.find_element(By.CSS_SELECTOR, LIVE_BODY).text
    return status.text.strip(), json.loads(body)


def test_swagger_ui_renders_offline(driver: Any, server: Running, tmp_path: Path) -> None:
    load(driver, f"{server.url}/docs")
    blocks = wait_for(
        driver, lambda c: len(c.find_elements(By.CSS_SELECTOR, ".opblock")) == 4, "4 operations"
    )
    assert blocks
    summaries = texts(driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-description"))
    assert summaries == SUMMARIES
    methods = texts(driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-method"))
    assert methods == ["GET", "POST", "GET", "DELETE"]
    paths = [
        element.get_attribute("data-path")
        for element in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    ]
    assert paths == ["/items", "/items", "/items/{item_id}", "/items/{item_id}"]
    title = driver.find_element(By.CSS_SELECTOR, ".info .title").text
    assert title.startswith("Docs Demo")
    assert driver.title == "Docs Demo - Swagger UI"
    assert texts(driver.find_elements(By.CSS_SELECTOR, ".opblock-tag")) == ["items"]
    screenshot(driver, tmp_path / "swagger-ui.png")

    network = Network(driver)
    assert network.off_host(server.url) == []
    assert network.failed == {}
    assert f"{server.url}/openapi.json" in network.requested
    assert any("/_aster/docs/swagger-ui-dist@5." in url for url in network.requested)
    assert console_errors(driver) == []


def test_swagger_ui_try_it_out_and_execute(driver: Any, server: Running, tmp_path: Path) -> None:
    load(driver, f"{server.url}/docs#/items/list_items_items_get")
    operation = wait_for(
        driver,
        lambda c: c.find_elements(By.CSS_SELECTOR, "#operations-items-list_items_items_get"),
        "the List items operation",
    )[0]
    try_it_out(driver, operation)
    press(driver, operation, "button.execute", "Execute")
    status, body = live_response(driver, operation)
    assert status == "200"
    assert body == [
        {"name": "hammer", "price": 9.5, "id": 1},
        {"name": "nails", "price": 0.25, "id": 2},
    ]
    request_url = operation.find_element(By.CSS_SELECTOR, ".request-url pre").text
    assert request_url == f"{server.url}/items?limit=10"
    screenshot(driver, tmp_path / "swagger-ui-executed.png")

    network = Network(driver)
    assert network.off_host(server.url) == []
    assert f"{server.url}/items?limit=10" in network.requested
    server.wait_for_log(r'"GET /items\?limit=10 HTTP/1\.1" 200 ')
    assert console_errors(driver) == []


def test_swagger_ui_posts_a_json_body(driver: Any, server: Running, tmp_path: Path) -> None:
    load(driver, f"{server.url}/docs#/items/create_item_items_post")
    operation = wait_for(
        driver,
        lambda c: c.find_elements(By.CSS_SELECTOR, "#operations-items-create_item_items_post"),
        "the Create an item operation",
    )[0]
    try_it_out(driver, operation)
    editor = wait_for(
        driver,
        lambda c: operation.find_elements(By.CSS_SELECTOR, "textarea.body-param__text"),
        "body",
    )[0]
    assert json.loads(editor.get_attribute("value")) == {"name": "hammer", "price": 9.5}
    editor.clear()
    editor.send_keys('{"name": "saw", "price": 12.5}')
    press(driver, operation, "button.execute", "Execute")
    status, body = live_response(driver, operation)
    assert status == "201"
    assert body["name"] == "saw" and body["price"] == 12.5 and body["id"] >= 3
    screenshot(driver, tmp_path / "swagger-ui-post.png")
    assert Network(driver).off_host(server.url) == []
    server.wait_for_log(r'"POST /items HTTP/1\.1" 201 ')


def test_redoc_renders_offline(driver: Any, server: Running, tmp_path: Path) -> None:
    headings = redoc_headings(driver, f"{server.url}/redoc", SUMMARIES)
    assert headings == ["items", *SUMMARIES]  # the tag, then its operations
    assert driver.find_element(By.CSS_SELECTOR, "h1").text == "Docs Demo (1.2.3)"
    assert driver.title == "Docs Demo - ReDoc"
    menu = driver.find_element(By.CSS_SELECTOR, "[role='menu'], .menu-content")
    assert "items" in menu.text
    # The sidebar's Redocly logo comes from the shipped bundle, as a data: URL.
    logo = driver.find_element(By.CSS_SELECTOR, "img[alt='redocly logo']")
    assert logo.get_attribute("src").startswith("data:image/svg+xml;base64,")
    screenshot(driver, tmp_path / "redoc.png")

    network = Network(driver)
    assert network.off_host(server.url) == []
    assert network.failed == {}
    assert any("/_aster/docs/redoc@2." in url for url in network.requested)
    assert console_errors(driver) == []


def test_control_cdn_pages_cannot_load_here(driver: Any, tmp_path: Path) -> None:
    """The same API with ``docs_cdn=True``: its CDN requests must fail in this browser."""
    with serve("tests.apps.fw_docs:cdn_app") as running:
        load(driver, f"{running.url}/docs")  # returns after the load event: scripts done
        network = Network(driver)
        off_host = network.off_host(running.url)
        assert "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js" in off_host
        assert network.failed
        # The favicon is fetched lazily and its failure may not be logged yet: the
        # scripts and styles are what would render the page.
        page_assets = {url for url in off_host if url.endswith((".js", ".css"))}
        assert page_assets and page_assets <= set(network.failed)
        assert all(error.startswith("net::ERR_") for error in network.failed.values())
        assert driver.find_elements(By.CSS_SELECTOR, ".opblock") == []
        screenshot(driver, tmp_path / "cdn-blocked.png", min_size=0)  # a blank page
