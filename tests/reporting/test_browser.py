"""Open the report in headless Chromium and check it the way a reader's browser sees it.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON messages
separated by NUL on file descriptors 3 and 4), so no port, no websocket library and no downloaded
browser are needed: Debian's ``chromium`` package is enough.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
EXPECTED_CHARTS = {
    "chart-activity",
    "chart-longtail",
    "chart-timeline",
    "chart-leaderboard",
    "chart-segments",
    "chart-deciles",
    "chart-categories",
}


# Chromium reads commands on fd 3 and writes replies on fd 4: this tiny launcher puts the pipes there
_PIPE_LAUNCHER = """
import fcntl, os, sys
ends = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3]]
for fd in sys.argv[1:3]:
    os.close(int(fd))
os.dup2(ends[0], 3)
os.dup2(ends[1], 4)
for fd in ends:
    os.close(fd)
os.execv(sys.argv[3], sys.argv[3:])
"""


def find_chromium() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        path = candidate if os.path.isabs(candidate) and os.access(candidate, os.X_OK) else shutil.which(candidate)
        if path:
            return path
    reason = "Chromium not found (apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + "; CI must run the browser tests")
    pytest.skip(reason)


class DevToolsPipe:
    """A Chromium process and a blocking DevTools client over its debugging pipe."""

    def __init__(self, chromium: str, profile_dir: Path):
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        self.log_path = profile_dir / "chromium.log"
        command = [
            sys.executable,
            "-c",
            _PIPE_LAUNCHER,
            str(to_browser_read),
            str(from_browser_write),
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile_dir}",
            "--window-size=1280,900",
            "about:blank",
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(to_browser_read, from_browser_write),
            )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._next_id = 0
        self._messages: queue.Queue = queue.Queue()
        self.events: list[dict] = []
        threading.Thread(target=self._read_forever, daemon=True).start()

    def _read_forever(self):
        buffer = b""
        while True:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                self._messages.put(None)
                return
            buffer += chunk
            *complete, buffer = buffer.split(b"\0")
            for raw in complete:
                self._messages.put(json.loads(raw))

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30):
        """Send one command and wait for its result, keeping every event that arrives meanwhile."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._messages.get(timeout=max(0.1, deadline - time.monotonic()))
            if reply is None:
                raise RuntimeError("Chromium closed the pipe; see " + str(self.log_path))
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            reply = self._messages.get(timeout=max(0.1, deadline - time.monotonic()))
            if reply is None:
                raise RuntimeError("Chromium closed the pipe; see " + str(self.log_path))
            self.events.append(reply)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - the browser may already be gone; we kill it below
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)


def open_page(browser: DevToolsPipe, url: str) -> str:
    """Open ``url`` in a new tab with console, log and network events on; return the tab's session."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Runtime", "Log", "Network", "Page"):
        browser.send(f"{domain}.enable", session=session)
    browser.events.clear()  # only what the report itself causes counts
    browser.send("Page.navigate", {"url": url}, session=session)
    browser.wait_for("Page.loadEventFired")
    browser.send("Runtime.evaluate", {"expression": "1", "awaitPromise": True}, session=session)
    return session


def page_problems(browser: DevToolsPipe, page_url: str) -> tuple[list[str], list[str]]:
    """(console errors and exceptions, URLs requested other than the page itself)."""
    errors, requests = [], []
    for event in browser.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            errors.append("exception: " + params["exceptionDetails"].get("text", ""))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append("log: " + params["entry"]["text"])
        elif method == "Network.requestWillBeSent" and params["request"]["url"] != page_url:
            requests.append(params["request"]["url"])
    return errors, requests


CHART_SIZES_JS = """JSON.stringify(Array.from(document.querySelectorAll('figure.chart')).map(f => {
  const svg = f.querySelector('svg'); const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  return {id: f.id, width: box.width, height: box.height,
          shapes: svg ? svg.querySelectorAll('path, use, rect').length : 0,
          texts: svg ? Array.from(svg.querySelectorAll('text')).filter(t => t.getBBox().width > 0).length : 0};
}))"""


def evaluate(browser: DevToolsPipe, session: str, expression: str):
    result = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
    return result["result"]["value"]


def screenshot(browser: DevToolsPipe, session: str, path: Path) -> None:
    size = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
    shot = browser.send(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 12000), "scale": 1},
        },
        session=session,
    )
    path.write_bytes(base64.b64decode(shot["data"]))


@pytest.fixture()
def browser(tmp_path):
    chromium = find_chromium()
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    client = DevToolsPipe(chromium, profile)
    try:
        client.send("Browser.getVersion", timeout=60)
        yield client
    finally:
        client.close()


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_report_renders_offline_without_errors(browser, built_reports, locale, tmp_path):
    url = built_reports[locale].html_path.resolve().as_uri()
    session = open_page(browser, url)
    errors, requests = page_problems(browser, url)
    assert errors == []
    assert requests == [], "the report asked the network for something"
    charts = json.loads(evaluate(browser, session, CHART_SIZES_JS))
    assert {c["id"] for c in charts} == EXPECTED_CHARTS
    for chart in charts:
        assert chart["width"] > 200 and chart["height"] > 80, chart
        assert chart["shapes"] > 5 and chart["texts"] > 2, chart
    assert evaluate(browser, session, "document.scripts.length") == 0
    assert evaluate(browser, session, "document.querySelectorAll('img').length") == 0
    shown = evaluate(browser, session, "document.body.innerText")
    assert "<script>alert(1)</script>" in shown  # the hostile title is text on the page
    assert ("数据概览" in shown) == (locale == "zh")
    png = tmp_path / f"report_{locale}.png"
    screenshot(browser, session, png)
    assert png.stat().st_size > 50_000  # a blank page compresses to a few kB


def test_checks_catch_network_requests_and_console_errors(browser, tmp_path):
    """The same checks on a page that does misbehave: they must see it."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><img src="http://127.0.0.1:9/pixel.png"><script>console.error("broken")</script>',
        encoding="utf-8",
    )
    url = page.as_uri()
    open_page(browser, url)
    errors, requests = page_problems(browser, url)
    assert any("broken" in e for e in errors)
    assert "http://127.0.0.1:9/pixel.png" in requests
