"""Memory per message, through the real mail stack: a reply at the caps stays under a bound.

A reply of 20 MB (the default `max_message_bytes`), 4 MB of it text (the default
`max_text_bytes`, plain and HTML, the ambassador's address in both) and the rest two PDF
files, goes through `mailflow run --once` as cron would run it: fetched from Dovecot,
stored, parsed, scrubbed, queued and sent through Postfix. The peak resident memory of
that process (the kernel's `ru_maxrss`, read by a small launcher process so that the test
runner's own memory does not count) must stay under the bound the README states. A reply
with just more text than the cap is refused the way an oversize one is: kept in
quarantine, its sender told in French, nothing relayed.

Before this bound, scrubbing kept two Python lists of ints per character of text (about
70 bytes a character) and the parser read the message whole: the first reply peaked at
515 MB, the second (500 MB) was relayed.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

from tests.deployment import RELAY, Deployment, outbox, query
from tests.e2e.test_relay_e2e import BAKER, PERSON, ask, assert_no_leak, everything, from_address
from tests.testdb import backend

MB = 1024 * 1024
MESSAGE_CAP = 20 * MB  # [limits] max_message_bytes, default
TEXT_CAP = 4 * MB  # [limits] max_text_bytes, default
# The README's bound: one message at the default caps, in `mailflow run --once`, peaks
# under 300 MB resident on SQLite (about 110 MB of it the daemon at rest: code, rules,
# directory), 420 MB on PostgreSQL (psycopg2 writes a bytea into the SQL text, in hex: each
# stored copy of the message is a statement four times its size for a moment).
BOUND_MB = 420 if backend() == "postgresql" else 300
LINE = "Bonjour Léa, à la boulangerie du port nous commençons très tôt, vers quatre heures.\n"
SIGNATURE = f"Marie Lefèvre - {BAKER}\n"

# Runs the command it is given and prints its peak RSS (kB) and output, as JSON: the
# launcher is small, so what RUSAGE_CHILDREN reports is the command's own peak.
LAUNCHER = """
import json, resource, subprocess, sys
run = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=300)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": run.returncode, "kb": peak, "out": run.stdout, "err": run.stderr}))
"""


def run_once_peak_mb(dep: Deployment) -> float:
    """`mailflow run --once` in a fresh process; its peak resident memory in MB."""
    command = [sys.executable, "-m", "mailflow", "--config", str(dep.config), "run", "--once"]
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command],
        capture_output=True,
        text=True,
        timeout=320,
        cwd=dep.config.parent,
        check=True,
    )
    result = json.loads(launched.stdout)
    assert result["rc"] == 0, result["err"]
    return result["kb"] / 1024


def text_of(size: int) -> str:
    """French text of `size` bytes (UTF-8) or a little less, the sender's address in it."""
    body = SIGNATURE + LINE * ((size - 2 * len(SIGNATURE.encode())) // len(LINE.encode()))
    return body + SIGNATURE


def reply(relay_address: str, text_size: int, pdf_size: int) -> bytes:
    """The ambassador's reply: text and HTML alternatives (half the text each), then two
    PDF files of `pdf_size` bytes each, base64-encoded as mail clients send them."""
    msg = EmailMessage()
    msg["From"] = f"Marie Lefèvre <{BAKER}>"
    msg["To"] = relay_address
    msg["Subject"] = "Re: Votre demande"
    msg["Message-ID"] = make_msgid(domain="pros.test")
    msg.set_content(text_of(text_size // 2), cte="quoted-printable")
    lines = text_of(text_size * 100 // 210).replace("\n", "<br>\n")  # <br>: 5% more
    msg.add_alternative(f"<html><body><p>{lines}</p></body></html>\n", subtype="html")
    msg.make_mixed()
    rng = random.Random(7)
    for name in ("planning.pdf", "recette.pdf"):
        data = b"%PDF-1.4\n" + rng.randbytes(pdf_size)
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return msg.as_bytes(policy=policy.SMTP)  # CRLF, as it is stored: its size is the cap's


def at_the_caps(relay_address: str) -> bytes:
    """A reply as large as the caps allow: text just under the text cap, PDF files filling
    the rest up to just under the size cap."""
    text_size, target = TEXT_CAP - 128 * 1024, MESSAGE_CAP - 64 * 1024
    pdf_size = (target - len(reply(relay_address, text_size, 0))) * 3 // 8
    raw = reply(relay_address, text_size, pdf_size)
    raw = reply(relay_address, text_size, pdf_size - (len(raw) - target) * 3 // 8)
    assert MESSAGE_CAP - 128 * 1024 < len(raw) <= MESSAGE_CAP, len(raw)
    return raw


def inbound_rows(dep: Deployment) -> list[tuple]:
    return query(dep, "SELECT outcome, status, reason FROM inbound_message ORDER BY id")


def conversation(dep: Deployment) -> str:
    """A request offered to the baker; the relay address she answers through."""
    ask(dep)
    [intro] = dep.stack.wait_for(BAKER)
    dep.stack.wait_for(PERSON)  # the acknowledgement
    return from_address(intro)


def test_a_reply_at_the_caps_stays_under_the_memory_bound(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    relay_for_baker = conversation(dep)
    mail.send(BAKER, [relay_for_baker], at_the_caps(relay_for_baker))
    mail.wait_for(RELAY, count=1, timeout=60)

    peak = run_once_peak_mb(dep)

    assert inbound_rows(dep)[-1][:2] == ("relayed", "processed"), inbound_rows(dep)[-1]
    [relayed] = mail.wait_for(PERSON, lambda m: "quatre heures" in everything(m), timeout=60)
    assert_no_leak(relayed, BAKER)
    names = [p.get_filename() for p in relayed.walk() if p.get_filename()]
    assert names == ["planning.pdf", "recette.pdf"]
    assert peak <= BOUND_MB, f"peak RSS {peak:.0f} MB > {BOUND_MB} MB for one message"


def test_a_reply_with_more_text_than_the_cap_is_refused(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    relay_for_baker = conversation(dep)
    mail.send(BAKER, [relay_for_baker], reply(relay_for_baker, TEXT_CAP + 256 * 1024, 0))
    mail.wait_for(RELAY, count=1, timeout=60)

    peak = run_once_peak_mb(dep)

    outcome, status, reason = inbound_rows(dep)[-1]
    assert (outcome, status) == ("too-large", "quarantined")
    assert reason.startswith("too large: 4.") and "MB text cap" in reason
    [told] = mail.wait_for(BAKER, lambda m: "trop long" in str(m["Subject"]))
    text = told.get_body(("plain",)).get_content()
    assert "Mo de texte" in text and "4 Mo" in text and "transmis à personne" in text
    assert outbox(dep, recipient=PERSON, purpose="relay") == []
    assert peak <= BOUND_MB, f"peak RSS {peak:.0f} MB > {BOUND_MB} MB for one message"
