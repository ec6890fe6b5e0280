"""The coordinators' console for tests: a database seeded through the real pipeline, the
real `mailflow web` process on a free port, and an HTTP client that keeps its cookies and
does not follow redirects (so a test sees each 303 and where it goes)."""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mailflow.context import Context
from mailflow.store.models import InboundMessage, Request
from mailflow.web.accounts import add_account
from tests.inprocess import mail_bytes, open_context, store_and_process

MAILFLOW = Path(sys.executable).with_name("mailflow")
COORDINATOR = ("lea.durand@region-normandie.test", "une phrase assez longue")
OBSERVER = ("evaluation@cabinet-etudes.test", "autre phrase bien longue")

# Written as people write: a pupil's phone, a parent's letter, an adult's quick question.
LEA = """Bonjour,
je m'appelle Léa, j'ai 15 ans et je suis en 3e au collège à Caen. J'aimerais rencontrer un
boulanger pour savoir comment ça se passe le matin très tôt. Mon numéro 06 12 34 56 78.
Merci !
Léa"""
TOM = """slt c tom jai 12 ans je veux etre boulanger a bayeux, tu peux maider ? merci"""


@dataclass(frozen=True)
class Seeded:
    ctx: Context
    config: Path
    lea: int  # request ids
    tom: int
    quarantined: int  # an inbound message's id
    port: int  # [web] port, free when seeded


def seed(folder: Path, extra: str = "", web: str = "") -> Seeded:
    """Two requests through the real pipeline (the sample directory imported), one
    quarantined message, a coordinator and an observer; `web`: lines of [web]."""
    port = free_port()
    ctx = open_context(folder, f"{extra}\n[web]\nport = {port}\n{web}\n")
    store_and_process(
        ctx,
        mail_bytes(LEA, sender="Léa Martin <lea.martin@users.test>", subject="stage boulangerie"),
        mail_bytes(TOM, sender="tom.b@users.test", subject="boulanger"),
    )
    lea = Request.get(Request.trade_text.is_null(False) & (Request.age == 15)).id
    tom = Request.get(Request.age == 12).id
    store_and_process(ctx, mail_bytes("Bonjour, voici ma lettre.", sender="x@users.test"))
    held = InboundMessage.select().order_by(InboundMessage.id.desc()).get()
    # stands for a message the pipeline held (its reasons are tested where they arise)
    InboundMessage.update(status="quarantined", reason="test: held for the coordinator").where(
        InboundMessage.id == held.id
    ).execute()
    add_account(*COORDINATOR[:1], "coordinator", COORDINATOR[1])
    add_account(*OBSERVER[:1], "observer", OBSERVER[1])
    return Seeded(ctx, ctx.cfg.source, lea, tom, held.id, port)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def console(config: Path, port: int, env: dict[str, str] | None = None) -> Iterator[str]:
    """`mailflow web` running on `port`; its base URL. Stopped with SIGTERM afterwards; what
    it logged is in web.log beside the configuration, printed (for a failing test) after."""
    log = config.parent / "web.log"
    output = log.open("w")
    proc = subprocess.Popen(
        [str(MAILFLOW), "--config", str(config), "web"],
        env=os.environ | (env or {}),
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"mailflow web stopped: {log.read_text()}"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert time.monotonic() < deadline, "mailflow web did not listen within 60 s"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        output.close()
        print(log.read_text())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        return None


@dataclass
class Answer:
    status: int
    headers: object
    body: str

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")  # type: ignore[attr-defined]


class Client:
    """A browser without a browser: cookies kept, redirects reported, not followed."""

    def __init__(self, base: str, client_ip: str | None = None) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )
        self.headers = {"X-Forwarded-For": client_ip} if client_ip else {}

    def _open(self, request: urllib.request.Request) -> Answer:
        try:
            with self.opener.open(request, timeout=30) as r:
                return Answer(r.status, r.headers, r.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as e:
            return Answer(e.code, e.headers, e.read().decode("utf-8", "replace"))

    def get(self, path: str) -> Answer:
        return self._open(urllib.request.Request(self.base + path, headers=self.headers))

    def post(self, path: str, data: dict[str, str]) -> Answer:
        body = urllib.parse.urlencode(data).encode()
        return self._open(urllib.request.Request(self.base + path, data=body, headers=self.headers))

    def csrf(self, path: str = "/connexion") -> str:
        page = self.get(path).body
        start = page.index('name="csrf" value="') + len('name="csrf" value="')
        return page[start : page.index('"', start)]

    def sign_in(self, email: str, password: str) -> Answer:
        return self.post("/connexion", {"csrf": self.csrf(), "email": email, "password": password})
