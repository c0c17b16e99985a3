"""A headless Chromium driven over the Chrome DevTools protocol (websockets, installed with kedro-viz).

:func:`inspect_page` opens one page and returns what a reader would meet: every image and whether
it decoded (``naturalWidth``), every console error or uncaught exception, the text of every table
cell, and a screenshot.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import time
import urllib.request
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--hide-scrollbars", "--remote-allow-origins=*", "--remote-debugging-port=0"]

PAGE_FACTS = """JSON.stringify({
  images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, naturalWidth: i.naturalWidth})),
  cells: Array.from(document.querySelectorAll('table')).map(t => Array.from(t.querySelectorAll('td')).map(c => c.textContent)),
  headings: Array.from(document.querySelectorAll('h2')).map(h => h.textContent),
  height: document.documentElement.scrollHeight
})"""


def inspect_page(chromium: str, url: str, profile: Path, screenshot: Path | None = None, width: int = 1400, height: int = 900,
                 full_page: bool = False, timeout: float = 60.0) -> dict:
    """Load ``url`` in headless Chromium and report images, console errors and table cells.

    Args:
        chromium: the browser executable.
        url: page to open (``file://...`` works).
        profile: an empty folder for the browser profile.
        screenshot: where to write a PNG of the page (viewport, or the whole page with ``full_page``).
        width, height: viewport in CSS pixels.
        timeout: seconds for start-up and for the page load.

    Returns:
        ``images`` (``alt, complete, naturalWidth``), ``cells`` (per table, the text of its ``td``),
        ``headings``, ``height`` (page height, px) and ``errors`` (console errors, uncaught
        exceptions and failed loads, as text).
    """
    from websockets.sync.client import connect

    process = subprocess.Popen([chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not port_file.is_file() or not port_file.read_text().strip():
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(t for t in targets if t["type"] == "page")
        ids = itertools.count(1)
        errors: list[str] = []
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=timeout) as ws:

            def call(method: str, **params):
                message_id = next(ids)
                ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
                while True:
                    message = json.loads(ws.recv(timeout=timeout))
                    if message.get("id") == message_id:
                        if "error" in message:
                            raise RuntimeError(f"{method}: {message['error']}")
                        return message.get("result", {})
                    record(message)

            def record(message: dict) -> None:
                method, params = message.get("method"), message.get("params", {})
                if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                    errors.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
                elif method == "Runtime.exceptionThrown":
                    errors.append("exception: " + params.get("exceptionDetails", {}).get("text", ""))
                elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                    errors.append("log: " + params["entry"].get("text", ""))
                elif method == "Network.loadingFailed":
                    errors.append("load failed: " + params.get("errorText", ""))

            for domain in ("Runtime", "Log", "Page", "Network"):
                call(f"{domain}.enable")
            call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
            call("Page.navigate", url=url)
            while True:
                message = json.loads(ws.recv(timeout=timeout))
                record(message)
                if message.get("method") == "Page.loadEventFired":
                    break
            facts = json.loads(call("Runtime.evaluate", expression=PAGE_FACTS, returnByValue=True)["result"]["value"])
            if screenshot is not None:
                options = {"format": "png"}
                if full_page:
                    options |= {"captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": width, "height": facts["height"], "scale": 1}}
                screenshot.write_bytes(base64.b64decode(call("Page.captureScreenshot", **options)["data"]))
            call("Runtime.evaluate", expression="1")  # drain events raised while taking the screenshot
        return {**facts, "errors": errors}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
