"""Headless Chromium driven over its DevTools pipe, for what `--dump-dom` cannot do.

`--dump-dom` reads the page through JavaScript, so with scripts disabled it prints nothing;
the DevTools protocol's DOM domain does not need the page's JavaScript. The browser reads
commands on its fd 3 and writes answers and events on its fd 4, one JSON object each,
ended by a NUL byte (`--remote-debugging-pipe`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any


class Browser:
    """One headless Chromium; `flags` apply to every page (e.g. scripts disabled)."""

    def __init__(self, binary: str, flags: list[str], timeout: float = 60.0) -> None:
        to_r, self._to = os.pipe()
        self._from, from_w = os.pipe()

        def wire() -> None:  # in the child, before exec: its fds 3 and 4
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        self.proc = subprocess.Popen(
            [binary, *flags, "--remote-debugging-pipe", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=wire,  # noqa: PLW1509 - a test helper, no threads around
            pass_fds=(3, 4),
        )
        os.close(to_r)
        os.close(from_w)
        self.timeout = timeout
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def close(self) -> None:
        with contextlib.suppress(OSError, AssertionError):  # already gone: nothing to close
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to)
        os.close(self._from)
        if self.proc.stderr:
            self.proc.stderr.close()

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            assert left > 0, "Chromium did not answer over its DevTools pipe"
            ready, _, _ = select.select([self._from], [], [], left)
            if ready:
                chunk = os.read(self._from, 65536)
                assert chunk, f"Chromium closed its DevTools pipe: {self.proc.stderr}"
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """One command; its result (events that come first are kept for `wait_for`)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._next_id:
                assert "error" not in answer, f"{method}: {answer['error']}"
                return answer.get("result", {})
            self._events.append(answer)

    def wait_for(self, event: str, session: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, e in enumerate(self._events):
                if e.get("method") == event and e.get("sessionId") == session:
                    return self._events.pop(i)
            self._events.append(self._message(deadline))

    def open(
        self, page: Path | str, width: int = 1280, height: int = 2000, isolated: bool = False
    ) -> str:
        """A new tab on `page` (a file, or a URL), loaded; its session id. `isolated`: in a
        browser context of its own (its own cookies, as another person's browser)."""
        extra = {}
        if isolated:
            extra["browserContextId"] = self.send("Target.createBrowserContext")["browserContextId"]
        target = self.send("Target.createTarget", url="about:blank", **extra)["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Page.enable", session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        url = page if isinstance(page, str) else page.as_uri()
        self.send("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired", session)
        return session

    def goto(self, session: str, url: str) -> None:
        """Navigate the tab to `url` (http:// too) and wait for it to load."""
        self.send("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired", session)

    def evaluate(self, session: str, expression: str) -> Any:
        """The value of `expression` in the page (DevTools runs it whatever the page's CSP)."""
        found = self.send("Runtime.evaluate", session, expression=expression, returnByValue=True)
        assert "exceptionDetails" not in found, found["exceptionDetails"]
        return found["result"].get("value")

    def submit(self, session: str, form: str, values: dict[str, str | bool]) -> None:
        """Fill the form matched by the CSS selector `form` as a person would (text typed,
        boxes ticked), press its submit button and wait for the next page."""
        script = (
            f"(() => {{ const f = document.querySelector({json.dumps(form)});"
            f" const v = {json.dumps(values)};"
            " for (const [k, x] of Object.entries(v)) { const e = f.elements[k];"
            "   if (e.type === 'checkbox') e.checked = x; else e.value = x; }"
            " f.querySelector('button[type=submit]').click(); return true; })()"
        )
        self.evaluate(session, script)
        self.wait_for("Page.loadEventFired", session)

    def text(self, session: str) -> str:
        """What the page says (its body's innerText)."""
        return self.evaluate(session, "document.body.innerText")

    def dom(self, session: str) -> str:
        root = self.send("DOM.getDocument", session, depth=-1)["root"]
        return self.send("DOM.getOuterHTML", session, nodeId=root["nodeId"])["outerHTML"]

    def resize(self, session: str, width: int, height: int, mobile: bool = False) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )

    def screenshot(self, session: str, path: Path) -> None:
        data = self.send("Page.captureScreenshot", session, format="png")["data"]
        path.write_bytes(base64.b64decode(data))
