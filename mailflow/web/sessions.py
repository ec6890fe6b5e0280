"""The session cookie: signed (itsdangerous), HttpOnly, SameSite=Strict, Secure behind TLS,
and its CSRF token.

The cookie carries a random nonce (every visitor has one, so the sign-in form has its CSRF
token too), and once signed in the account's id, its `generation` (sign-out and disabling
raise it: older cookies are refused) and when it was issued, on mailflow's clock
(MAILFLOW_NOW), so that the lifetime is checked here and not left to the browser.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "mailflow_console"
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class Session:
    nonce: str
    account: int | None = None
    generation: int = 0
    issued: float = 0.0  # POSIX seconds, from clock.now()

    def signed_in(self, account: int, generation: int, now: datetime) -> Session:
        """A new nonce at sign-in: a token seen before it is worth nothing after."""
        return Session(new_nonce(), account, generation, now.timestamp())

    def signed_out(self) -> Session:
        return replace(self, nonce=new_nonce(), account=None, generation=0, issued=0.0)


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


class Sessions:
    """Encodes and checks the cookie with the installation's secret."""

    def __init__(self, secret: str, lifetime: timedelta, secure: bool) -> None:
        self._secret = secret.encode()
        self._serializer = URLSafeSerializer(secret, salt="mailflow-console-session")
        self.lifetime = lifetime
        self.secure = secure

    def fresh(self) -> Session:
        return Session(new_nonce())

    def encode(self, session: Session) -> str:
        return self._serializer.dumps(asdict(session))

    def decode(self, text: str | None) -> Session | None:
        """The session of a cookie, or None when it is missing, forged or malformed."""
        if not text:
            return None
        try:
            data = self._serializer.loads(text)
            return Session(
                nonce=str(data["nonce"]),
                account=None if data["account"] is None else int(data["account"]),
                generation=int(data["generation"]),
                issued=float(data["issued"]),
            )
        except (BadSignature, KeyError, TypeError, ValueError):
            return None

    def expired(self, session: Session, now: datetime) -> bool:
        issued = datetime.fromtimestamp(session.issued, UTC)
        return now - issued >= self.lifetime or issued - now > timedelta(minutes=5)

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._secret, f"csrf:{session.nonce}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session), str(token))

    def cookie(self) -> dict[str, object]:
        """What Response.set_cookie is given besides the value."""
        return {
            "max_age": int(self.lifetime.total_seconds()),
            "httponly": True,
            "samesite": "strict",
            "secure": self.secure,
            "path": "/",
        }
