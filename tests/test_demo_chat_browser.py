"""The demo's chat page (examples/chat.py) in a real headless Chromium: two tabs, two
nicknames, one WebSocket each; what one tab sends, the other shows.  Then the same with
each tab on its own ``aster run`` process, the two on one Redis (``REDIS_URL``), and a tab
told when Redis comes back after going away.

The browser setup and helpers are tests/test_docs_browser.py's (its proxy at 127.0.0.1:9
refuses anything that is not the test server), so the page must work from the demo alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import test_docs_browser as browser
from tests.demo_chat_support import serve_on_redis, skip_without_redis
from tests.support import Running, serve
from tests.test_demo import DEMO, demo_env, eventually
from tests.test_docs_browser import (
    By,
    Network,
    console_errors,
    load,
    screenshot,
    texts,
    wait_for,
)

# Importing that module skips this one too when selenium is missing; its pytestmark skips
# without chromium or chromedriver, and its module-scoped driver fixture is this module's.
pytestmark = browser.pytestmark
driver = browser.driver


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    db = tmp_path_factory.mktemp("demo-chat-browser") / "notes.sqlite3"
    with serve(*DEMO, env=demo_env(db)) as running:
        yield running


def stats(server: Running) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{server.url}/chat/stats", timeout=10).json()
    return data


def log_lines(chrome: Any) -> list[str]:
    return texts(chrome.find_elements(By.CSS_SELECTOR, "#log li"))


def join(chrome: Any, server: Running, nick: str) -> None:
    """Open the chat page in the current tab and join the lobby as ``nick`` via the form."""
    load(chrome, f"{server.url}/chat")
    wait_for(chrome, lambda c: c.find_elements(By.ID, "nick"), "the join form")
    chrome.find_element(By.ID, "nick").send_keys(nick)
    chrome.find_element(By.CSS_SELECTOR, "#join button").click()
    wait_for(
        chrome,
        lambda c: c.find_element(By.ID, "text").is_enabled() and f"{nick} joined" in log_lines(c),
        f"{nick} to join",
    )


def test_two_tabs_chat_with_each_other(driver: Any, server: Running, tmp_path: Path) -> None:
    first = driver.current_window_handle
    join(driver, server, "alice")
    network = Network(driver)  # alice's page load: nothing but the test server
    assert network.off_host(server.url) == []

    driver.switch_to.new_window("tab")
    second = driver.current_window_handle
    assert second != first and len(driver.window_handles) == 2
    join(driver, server, "bob")
    assert Network(driver).off_host(server.url) == []
    assert driver.find_element(By.ID, "online").text == "alice, bob"
    assert stats(server) == {"members": 2, "rooms": {"lobby": ["alice", "bob"]}}

    # Bob says something; alice's tab shows it, and that bob joined, as plain text.
    message = "hello from bob's tab <b>not bold</b>"
    driver.find_element(By.ID, "text").send_keys(message)
    driver.find_element(By.ID, "send-button").click()
    wait_for(driver, lambda c: f"bob: {message}" in log_lines(c), "bob's own message")
    assert driver.find_element(By.ID, "text").get_attribute("value") == ""
    screenshot(driver, tmp_path / "bob.png")

    driver.switch_to.window(first)
    wait_for(driver, lambda c: f"bob: {message}" in log_lines(c), "bob's message in alice's tab")
    assert log_lines(driver) == ["alice joined", "bob joined", f"bob: {message}"]
    assert driver.find_element(By.ID, "online").text == "alice, bob"
    assert not driver.find_elements(By.CSS_SELECTOR, "#log b")  # text, not markup

    # And back: alice answers, bob's tab shows it.
    driver.find_element(By.ID, "text").send_keys("hi bob")
    driver.find_element(By.ID, "send-button").click()
    wait_for(driver, lambda c: "alice: hi bob" in log_lines(c), "alice's own message")
    screenshot(driver, tmp_path / "alice.png")
    driver.switch_to.window(second)
    wait_for(driver, lambda c: "alice: hi bob" in log_lines(c), "alice's message in bob's tab")
    assert console_errors(driver) == []

    # Bob's tab closes: its socket goes, alice is told, the chat forgets bob.
    driver.close()
    driver.switch_to.window(first)
    wait_for(driver, lambda c: "bob left" in log_lines(c), "bob's leave notice")
    assert driver.find_element(By.ID, "online").text == "alice"
    eventually(lambda: stats(server)["members"] == 1)
    assert console_errors(driver) == []
    driver.get("about:blank")  # alice leaves too
    eventually(lambda: stats(server) == {"members": 0, "rooms": {}})


def test_an_invalid_nickname_is_refused(driver: Any, server: Running, tmp_path: Path) -> None:
    load(driver, f"{server.url}/chat?nick=x%3Cy")  # the page joins at once from ?nick=
    wait_for(
        driver,
        lambda c: "Refused" in c.find_element(By.ID, "status").text,
        "the refusal",
    )
    assert not driver.find_element(By.ID, "text").is_enabled()
    assert log_lines(driver) == []
    assert Network(driver).off_host(server.url) == []
    screenshot(driver, tmp_path / "refused.png", min_size=5_000)
    assert stats(server)["members"] == 0


@pytest.fixture(scope="module")
def two_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Running]]:
    """Two demo processes on the session's redis-server."""
    skip_without_redis()
    url = request.getfixturevalue("redis_server").url
    with serve_on_redis(url, tmp_path_factory.mktemp("demo-chat-browser-redis"), "a", "b") as both:
        yield both


def page_errors(chrome: Any) -> list[str]:
    """The console errors, but for the /favicon.ico Chromium asks a new origin for (these
    servers' ports are new to it; the chat page names no icon, so that is a 404)."""
    return [error for error in console_errors(chrome) if "/favicon.ico" not in error]


def send(chrome: Any, text: str) -> None:
    chrome.find_element(By.ID, "text").send_keys(text)
    chrome.find_element(By.ID, "send-button").click()


def test_two_tabs_on_two_processes_chat_through_redis(
    driver: Any, two_servers: list[Running], tmp_path: Path
) -> None:
    a, b = two_servers
    first = driver.current_window_handle
    join(driver, a, "alice")  # on process a
    assert Network(driver).off_host(a.url) == []
    driver.switch_to.new_window("tab")
    second = driver.current_window_handle
    join(driver, b, "bob")  # on process b
    assert Network(driver).off_host(b.url) == []
    assert driver.find_element(By.ID, "online").text == "alice, bob"
    everyone = {"members": 2, "rooms": {"lobby": ["alice", "bob"]}}
    assert stats(a) == stats(b) == everyone

    message = "hello from process b <b>not bold</b>"
    send(driver, message)
    wait_for(driver, lambda c: f"bob: {message}" in log_lines(c), "bob's own message")
    assert log_lines(driver) == ["bob joined", f"bob: {message}"]

    driver.switch_to.window(first)
    wait_for(driver, lambda c: f"bob: {message}" in log_lines(c), "bob's message on a")
    assert log_lines(driver) == ["alice joined", "bob joined", f"bob: {message}"]
    assert driver.find_element(By.ID, "online").text == "alice, bob"
    assert not driver.find_elements(By.CSS_SELECTOR, "#log b")  # text, not markup
    send(driver, "hi bob, from process a")
    wait_for(driver, lambda c: "alice: hi bob, from process a" in log_lines(c), "alice's own")
    screenshot(driver, tmp_path / "alice-on-a.png")

    driver.switch_to.window(second)
    wait_for(driver, lambda c: "alice: hi bob, from process a" in log_lines(c), "alice's on b")
    assert log_lines(driver) == ["bob joined", f"bob: {message}", "alice: hi bob, from process a"]
    screenshot(driver, tmp_path / "bob-on-b.png")
    assert page_errors(driver) == []

    driver.close()  # bob's tab: b says so to a, through Redis
    driver.switch_to.window(first)
    wait_for(driver, lambda c: "bob left" in log_lines(c), "bob's leave notice on a")
    assert driver.find_element(By.ID, "online").text == "alice"
    assert log_lines(driver) == [
        "alice joined",
        "bob joined",
        f"bob: {message}",
        "alice: hi bob, from process a",
        "bob left",
    ]
    assert page_errors(driver) == []
    driver.get("about:blank")
    eventually(lambda: stats(a) == stats(b) == {"members": 0, "rooms": {}})


def test_a_tab_is_told_when_redis_comes_back(driver: Any, tmp_path: Path) -> None:
    """On a Redis of its own, which it kills and restarts."""
    skip_without_redis()
    from bench.redis_server import RedisServer

    with RedisServer() as redis, serve_on_redis(redis.url, tmp_path, "a") as [a]:
        join(driver, a, "carol")
        redis.stop()
        send(driver, "lost")
        wait_for(driver, lambda c: len(log_lines(c)) == 2, "the error")
        redis.start()
        wait_for(driver, lambda c: len(log_lines(c)) == 3, "the notice")
        send(driver, "found")
        wait_for(driver, lambda c: "carol: found" in log_lines(c), "carol's message")
        assert log_lines(driver) == [
            "carol joined",
            "not sent: the chat is unavailable, try again",
            "The chat lost its connection and is back: messages sent meanwhile may be lost.",
            "carol: found",
        ]
        kinds = [
            item.get_attribute("class") for item in driver.find_elements(By.CSS_SELECTOR, "#log li")
        ]
        assert kinds == ["notice", "error", "notice", "message"]
        assert page_errors(driver) == []
        driver.get("about:blank")
