"""The demo in headless Chromium over HTTPS with ALPN h2: /docs loads over HTTP/2, and the chat's
WebSocket travels as an RFC 8441 extended CONNECT on that HTTP/2 connection (the server's log
says so).  The browser setup is tests/test_docs_browser.py's; the certificate is trustme's and
Chromium is told to ignore that it does not know the CA."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from tests import test_docs_browser as browser
from tests.h2_support import serve_h2
from tests.support import Running
from tests.test_demo import DEMO, demo_env
from tests.test_docs_browser import By, console_errors, load, texts, wait_for

pytestmark = browser.pytestmark
driver = browser.driver


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    db = tmp_path_factory.mktemp("demo-h2") / "notes.sqlite3"
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    with cert.private_key_pem.tempfile() as key, cert.cert_chain_pems[0].tempfile() as chain:
        with serve_h2(
            *DEMO, "--ssl-keyfile", key, "--ssl-certfile", chain, env=demo_env(db)
        ) as running:
            yield running


def next_hop_protocol(chrome: Any) -> str:
    return str(
        chrome.execute_script(
            "return performance.getEntriesByType('navigation')[0].nextHopProtocol"
        )
    )


def test_docs_load_over_http2(driver: Any, server: Running) -> None:
    load(driver, f"{server.url}/docs")
    wait_for(driver, lambda c: c.find_elements(By.CSS_SELECTOR, ".opblock-summary"), "operations")
    assert next_hop_protocol(driver) == "h2"
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.nextHopProtocol)"
    )
    assert resources and set(resources) == {"h2"}
    assert console_errors(driver) == []
    server.wait_for_log(r'"GET /docs HTTP/2\.0" 200')
    server.wait_for_log(r'"GET /openapi\.json HTTP/2\.0" 200')


def test_chat_websocket_rides_the_http2_connection(driver: Any, server: Running) -> None:
    load(driver, f"{server.url}/chat")
    assert next_hop_protocol(driver) == "h2"
    wait_for(driver, lambda c: c.find_elements(By.ID, "nick"), "the join form")
    driver.find_element(By.ID, "nick").send_keys("carol")
    driver.find_element(By.CSS_SELECTOR, "#join button").click()

    def lines(chrome: Any) -> list[str]:
        return texts(chrome.find_elements(By.CSS_SELECTOR, "#log li"))

    wait_for(driver, lambda c: "carol joined" in lines(c), "carol to join")
    driver.find_element(By.ID, "text").send_keys("over h2")
    driver.find_element(By.ID, "send-button").click()
    wait_for(driver, lambda c: "carol: over h2" in lines(c), "carol's message")
    # The server saw the socket arrive as an extended CONNECT stream of HTTP/2.
    line = server.wait_for_log(r'"WebSocket /chat/ws\?[^"]* HTTP/2\.0" \[accepted\]')
    assert "nick=carol" in line
    # (The chat page names no icon, so Chromium's own /favicon.ico try gets a 404.)
    assert [e for e in console_errors(driver) if "/favicon.ico" not in e] == []
    driver.get("about:blank")
