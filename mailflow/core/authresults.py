"""Did the sender's own domain vouch for this mail? The receiving server's verdict, read
from its `Authentication-Results` header (RFC 8601).

Reading a mailbox over IMAP, mailflow never sees the SMTP session: the only evidence of
who sent a message is what the provider's receiving server wrote on top of it after
checking SPF, DKIM and DMARC. Anyone can write such a header into the mail they send, so:

- Only headers bearing one of the configured authserv-ids count; the others may have been
  written by the sender, or by a server we know nothing about (RFC 8601 section 7.1).
- Of those, only the topmost one counts. Servers prepend their trace headers, so the
  receiving server's header is above anything the sender wrote, whatever the sender
  forged below it with the same id (a conforming server also removes those, section 5;
  we do not rely on it). Reading the first one only is also what keeps a forged
  `dkim=pass` from being merged with the server's real `dkim=none`. All the big providers
  (Gmail, Fastmail, Rspamd, Exim, amavis) write one header with every method; a Postfix
  with one milter per method writes several, of which the topmost, OpenDMARC's, carries
  the DMARC verdict that sums the others up.
- A header bearing the trusted id must be present: the trusted server adds one to every
  message it accepts, so its absence means something is wrong (`unknown`).

A message is authenticated by `dmarc=pass` for its From domain, or by a `dkim=pass`
whose signing domain (header.d, else header.i's domain) or an `spf=pass` whose
smtp.mailfrom domain is aligned with the From domain (the same domain, or one a subdomain
of the other: DMARC's relaxed alignment, without the public suffix list). `dmarc=fail`
fails whatever else the header says; so does the absence of any aligned pass.

Microsoft 365 writes its header without an authserv-id (against the RFC): such a header
cannot be told from one the sender wrote, and is never trusted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.utils import getaddresses

HEADER = "authentication-results"
AUTHENTICATED, FAILED, UNKNOWN = "authenticated", "failed", "unknown"
_SPECIALS = ';="()'


@dataclass(frozen=True)
class Result:
    """One `method=result` with its properties ("header.d" -> "example.org")."""

    method: str
    result: str
    properties: tuple[tuple[str, str], ...] = ()

    def get(self, name: str) -> str:
        return next((v for k, v in self.properties if k == name), "")

    def __str__(self) -> str:
        shown = ("header.from", "header.d", "header.i", "smtp.mailfrom")
        props = " ".join(f"{k}={v}" for k, v in self.properties if k in shown)
        return f"{self.method}={self.result}" + (f" {props}" if props else "")


@dataclass(frozen=True)
class AuthResults:
    authserv_id: str  # lower-cased; "" when the header has none (Microsoft 365)
    results: tuple[Result, ...]


@dataclass(frozen=True)
class Verdict:
    status: str  # AUTHENTICATED, FAILED or UNKNOWN
    reason: str

    @property
    def authenticated(self) -> bool:
        return self.status == AUTHENTICATED


# -- parsing one header -----------------------------------------------------------------------


def _tokens(value: str) -> list[str]:
    """Words, quoted strings (as '"' + text) and the specials ';' and '='; comments,
    nested or not, and whitespace are dropped."""
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c.isspace():
            i += 1
        elif c == "(":
            depth, i = 1, i + 1
            while i < n and depth:
                depth += {"(": 1, ")": -1}.get(value[i], 0)
                i += 2 if value[i] == "\\" else 1
        elif c == '"':
            text, i = [], i + 1
            while i < n and value[i] != '"':
                if value[i] == "\\" and i + 1 < n:
                    i += 1
                text.append(value[i])
                i += 1
            out.append('"' + "".join(text))
            i += 1
        elif c in ";=":
            out.append(c)
            i += 1
        elif c == ")":
            i += 1  # a stray closing parenthesis: ignored
        else:
            start = i
            while i < n and not value[i].isspace() and value[i] not in _SPECIALS:
                i += 1
            out.append(value[start:i])
    return out


def _segments(tokens: list[str]) -> list[list[str]]:
    segments: list[list[str]] = [[]]
    for token in tokens:
        if token == ";":
            segments.append([])
        else:
            segments[-1].append(token)
    return segments


def _pairs(segment: list[str]) -> list[tuple[str, str]]:
    """`name = value` pairs in order; anything that is no pair is skipped."""
    pairs, i = [], 0
    while i + 2 < len(segment):
        name, eq, value = segment[i : i + 3]
        if name != "=" and eq == "=" and value != "=":
            pairs.append((name.lower(), value.removeprefix('"')))
            i += 3
        else:
            i += 1
    return pairs


def _result(segment: list[str]) -> Result | None:
    pairs = _pairs(segment)
    if not pairs:
        return None
    (method, result), rest = pairs[0], pairs[1:]
    method = method.split("/")[0].strip()  # "dkim/1": the method's version
    return Result(method, result.lower(), tuple((k, v) for k, v in rest if k != "reason"))


def parse_header(value: str) -> AuthResults:
    """One header's value: the authserv-id and its results (none for "id; none")."""
    segments = _segments(_tokens(value.replace("\r", " ").replace("\n", " ")))
    first = segments[0]
    if "=" in first:  # no authserv-id: the first segment is already a result
        authserv_id, resinfos = "", segments
    else:
        authserv_id = first[0].removeprefix('"').lower() if first else ""
        resinfos = segments[1:]
    results = tuple(r for r in map(_result, resinfos) if r is not None)
    return AuthResults(authserv_id, results)


# -- the verdict ------------------------------------------------------------------------------


def trusted(authserv_id: str, ids: Sequence[str]) -> bool:
    """Exact, case-insensitive; "*.example.org" names every host under example.org
    (Fastmail's mx1...mx6.messagingengine.com)."""
    if not authserv_id:
        return False
    for wanted in (i.lower() for i in ids):
        if authserv_id == wanted or (wanted.startswith("*.") and authserv_id.endswith(wanted[1:])):
            return True
    return False


def topmost_trusted(headers: Iterable[tuple[str, str]], ids: Sequence[str]) -> AuthResults | None:
    for name, value in headers:
        if name.strip().lower() == HEADER:
            parsed = parse_header(str(value))
            if trusted(parsed.authserv_id, ids):
                return parsed
    return None


def aligned(domain: str, from_domain: str) -> bool:
    """The same domain, or one a subdomain of the other (relaxed alignment)."""
    d, f = domain.strip().strip(".").lower(), from_domain.strip().strip(".").lower()
    return bool(d and f) and (d == f or f.endswith("." + d) or d.endswith("." + f))


def _domain(value: str) -> str:
    return value.rpartition("@")[2].strip().strip("<>")


def from_domain(headers: Iterable[tuple[str, str]]) -> str | None:
    """The From address's domain; None unless there is exactly one From address."""
    values = [str(v) for k, v in headers if k.strip().lower() == "from"]
    addresses = [a for _, a in getaddresses(values) if a]
    if len(values) != 1 or len(addresses) != 1 or "@" not in addresses[0]:
        return None
    return _domain(addresses[0]).lower()


def verdict(headers: Iterable[tuple[str, str]], ids: Sequence[str]) -> Verdict:
    """What the topmost trusted Authentication-Results header says about the From domain.

    `headers` are (name, value) in the message's order, top first."""
    headers = list(headers)
    found = topmost_trusted(headers, ids)
    if found is None:
        return Verdict(UNKNOWN, f"no Authentication-Results header from {' or '.join(ids)}")
    domain = from_domain(headers)
    where = f"{found.authserv_id}:"
    if domain is None:
        return Verdict(FAILED, f"{where} not exactly one From address to check")
    results = found.results
    failed = next((r for r in results if r.method == "dmarc" and r.result == "fail"), None)
    if failed is not None:
        return Verdict(FAILED, f"{where} {failed}")
    for r in results:
        if r.result == "pass" and _vouches(r, domain):
            return Verdict(AUTHENTICATED, f"{where} {r}")
    seen = ", ".join(str(r) for r in results if r.method in ("dmarc", "dkim", "spf"))
    return Verdict(FAILED, f"{where} no pass aligned with {domain} ({seen or 'no result'})")


def _vouches(r: Result, domain: str) -> bool:
    if r.method == "dmarc":
        said = r.get("header.from")
        return not said or _domain(said).lower() == domain
    if r.method == "dkim":
        return aligned(r.get("header.d") or _domain(r.get("header.i")), domain)
    if r.method == "spf":
        return aligned(_domain(r.get("smtp.mailfrom")), domain)
    return False
