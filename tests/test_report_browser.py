"""`mailflow report`: the static site, opened in a real headless Chromium.

A seeded data set of one year (plus a few requests of the years around it, which must not
show) goes straight into the database, with a tally kept while generating; the test runs
`mailflow report` through the CLI, reads the DOM Chromium renders from file:// and checks the
headline figures, one request's timeline, that no address appears anywhere, and keeps a
screenshot in tests/artifacts/ for a human to look at.

Chromium comes from Debian (`scripts/test` installs it when run as root). Without it this
test fails: a report nobody looked at in a browser is not tested.
"""

from __future__ import annotations

import random
import re
import shutil
import statistics
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mailflow.cli import main
from mailflow.config import PROJECT_ROOT, load_config
from mailflow.db import open_database
from mailflow.models import (
    Ambassador,
    Conversation,
    Event,
    InboundMessage,
    OutboundMail,
    Person,
    Request,
    database,
)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
ADDRESS = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+")
TRADES = {"D1102": "Boulanger / Boulangère", "J1501": "Aide-soignant / Aide-soignante"}
WATCHED = 7  # the request whose timeline is checked


@dataclass
class Tally:
    """What the 2025 pages must show, counted while generating (never read back)."""

    ids: list[int] = field(default_factory=list)
    other_ids: list[int] = field(default_factory=list)
    people: set[int] = field(default_factory=set)
    offered: int = 0
    answered: int = 0
    hours: list[float] = field(default_factory=list)
    escalations: int = 0
    emails: list[str] = field(default_factory=list)


def french(n: float, digits: int = 0) -> str:
    return f"{n:,.{digits}f}".replace(",", "\u202f").replace(".", ",")


def generate(rng: random.Random) -> Tally:
    t = Tally()
    base = datetime(2024, 6, 1)
    ambassadors = [
        {
            "id": i,
            "email": f"amb{i}@pros.test",
            "first_name": "Marie" if i == 1 else f"Amb{i}",
            "last_name": "Leroy",
            "kind": "metier",
            "title": "Boulanger",
            "title_words": "boulanger",
            "department": "14",
            "created_at": base,
            "updated_at": base,
        }
        for i in range(1, 21)
    ]
    people = [
        {"id": i, "email": f"p{i}@users.test", "first_name": f"P{i}", "created_at": base}
        for i in range(1, 201)
    ]
    people[0]["first_name"] = "Léa"
    t.emails = [a["email"] for a in ambassadors] + [p["email"] for p in people]
    requests, conversations = [], []
    years = [2025] * 320 + [2024, 2024, 2024, 2026, 2026]
    for rid, year in enumerate(years, start=1):
        person = 1 if rid == WATCHED else rng.randint(1, 200)
        created = datetime(year, 1, 1) + timedelta(seconds=rng.randrange(365 * 86400))
        offered = rid == WATCHED or rng.random() < 0.75
        answer = None
        if offered and (rid == WATCHED or rng.random() < 0.7):
            answer = created + timedelta(minutes=12 * rng.randint(1, 1500))  # 0.2 h steps
        escalated = created + timedelta(days=8) if rng.random() < 0.1 else None
        code = rng.choice((*TRADES, None))
        requests.append(
            {
                "id": rid,
                "person": person,
                "state": rng.choice(("offered", "answered", "closed", "unmatched", "new")),
                "kind": rng.choice(("metier", "formation", "vae", None)),
                "code_rome": code,
                "rome_label": TRADES.get(code),
                "trade_text": rng.choice(("boulangerie", "soins", None)),
                "department": rng.choice(("14", "50", "2A", None)),
                "age": rng.choice((None, 9, 12, 16, 22, 35, 60)),
                "situation": rng.choice(("collegien", "salarie", "parent", None)),
                "created_at": created,
                "updated_at": created,
                "first_answer_at": answer,
                "escalated_at": escalated,
            }
        )
        if offered:
            cid = len(conversations) + 1
            conversations.append(
                {
                    "id": cid,
                    "request": rid,
                    "ambassador": 1 if rid == WATCHED else rng.randint(1, 20),
                    "ambassador_token": f"a{cid}",
                    "person_token": f"p{cid}",
                    "created_at": created + timedelta(minutes=5),
                }
            )
        if year != 2025:
            t.other_ids.append(rid)
            continue
        t.ids.append(rid)
        t.people.add(person)
        t.offered += offered
        t.escalations += escalated is not None
        if answer:
            t.answered += 1
            t.hours.append((answer - created).total_seconds() / 3600)
    with database.atomic():
        Ambassador.insert_many(ambassadors).execute()
        Person.insert_many(people).execute()
        Request.insert_many(requests).execute()
        Conversation.insert_many(conversations).execute()
    watched_timeline(requests[WATCHED - 1]["created_at"])
    return t


def watched_timeline(at: datetime) -> None:
    """One request's exchange: the person writes, mailflow offers, the ambassador answers."""
    conv = Conversation.get(Conversation.request == WATCHED)

    def inbound(n: int, **fields: object) -> None:
        InboundMessage.create(
            message_id=f"<in{n}@x>", sha256=f"{n:064d}", raw=b"", size=0, **fields
        )

    inbound(
        1,
        received_at=at,
        sender="p1@users.test",
        subject="Je veux devenir boulangère",
        role="person",
        request=WATCHED,
        outcome="new-request",
        status="processed",
    )
    Event.create(
        at=at + timedelta(minutes=1), kind="state", request=WATCHED, old_state="new",
        new_state="offered", cause="proposée à Marie L. (Boulanger, 14)",
    )  # fmt: skip
    OutboundMail.create(
        idempotency_key="intro-7", purpose="intro", message_id="<out1@x>",
        envelope_from="bounce@mailflow.test", recipient="amb1@pros.test",
        recipient_role="ambassador", subject="Une demande pour vous : boulangerie", raw=b"",
        status="sent", next_attempt_at=at, created_at=at + timedelta(minutes=2),
        request=WATCHED, conversation=conv,
    )  # fmt: skip
    inbound(
        2,
        received_at=at + timedelta(hours=3),
        sender="amb1@pros.test",
        subject="Re: avec plaisir, écrivez-moi à amb1@pros.test",
        role="ambassador",
        request=WATCHED,
        conversation=conv,
        outcome="relayed",
        status="processed",
    )
    Event.create(
        at=at + timedelta(hours=3), kind="state", request=WATCHED, old_state="offered",
        new_state="answered", cause="première réponse de l'ambassadrice",
    )  # fmt: skip


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    text = (PROJECT_ROOT / "mailflow.example.toml").read_text(encoding="utf-8")
    path = tmp_path / "mailflow.toml"
    path.write_text(text.replace("db/mailflow.sqlite3", "report.sqlite3"), encoding="utf-8")
    open_database(load_config(path).database.url, tmp_path)
    yield path
    database.obj.close()
    database.initialize(None)


def chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if not found:
        pytest.fail(
            "Chromium is missing: run scripts/test as root (it installs Debian's chromium) or "
            "`apt-get install chromium`; the report must be checked in a real browser",
            pytrace=False,
        )
    return found


def browse(tmp_path: Path, page: Path, *args: str) -> str:
    """Run headless Chromium on a file:// page with a fresh profile; its stdout."""
    profile = Path(tmp_path / "chrome") / str(len(list(tmp_path.glob("chrome/*"))))
    profile.mkdir(parents=True)
    cmd = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_report_in_a_browser(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t = generate(random.Random(2025))
    out = tmp_path / "site"
    code = main(["--config", str(config), "report", "--year", "2025", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert f"{len(t.ids) + 2} pages written" in printed.out

    dom = browse(tmp_path, out / "index.html", "--dump-dom")
    assert "<svg" in dom and "Demandes par mois" in dom
    totals = dict(re.findall(r'class="value">([^<]+)</span> <span class="label">([^<]+)<', dom))
    rate = f"{french(round(t.answered / t.offered, 4) * 100, 1)} %"
    median = f"{french(round(statistics.median(t.hours), 2), 1)} h"
    assert totals == {
        str(len(t.ids)): "Demandes",
        str(len(t.people)): "Personnes",
        rate: "Taux de réponse",
        median: "Délai médian de 1re réponse",
        str(t.escalations): "Escalades",
    }
    buckets = [sum(lo <= h < hi for h in t.hours) for lo, hi in ((0, 24), (24, 72), (72, 168))]
    buckets += [sum(h >= 168 for h in t.hours), t.offered - t.answered]
    words = ("moins de 24 h", "1 à 3 j", "3 à 7 j", "plus de 7 j", "sans réponse")
    described = "; ".join(f"{w} : {n}" for w, n in zip(words, buckets, strict=True))
    assert described in dom  # the chart's <desc>, read by screen readers

    listing = browse(tmp_path, out / "requests.html", "--dump-dom")
    linked = [int(i) for i in re.findall(r'href="requests/(\d+)\.html"', listing)]
    assert sorted(linked) == t.ids
    assert not set(t.other_ids) & {int(p.stem) for p in (out / "requests").glob("*.html")}

    page = browse(tmp_path, out / "requests" / f"{WATCHED}.html", "--dump-dom")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    for expected in (
        "Message reçu De personne Léa à mailflow",
        "Je veux devenir boulangère",
        "nouvelle → proposée — cause : proposée à Marie L. (Boulanger, 14)",
        "Message envoyé intro De mailflow à ambassadeur·rice Marie L.",
        "Une demande pour vous : boulangerie",
        "De ambassadeur·rice Marie L. à personne Léa",
        "écrivez-moi à [adresse masquée]",
        "proposée → répondue — cause : première réponse de l'ambassadrice",
    ):
        assert expected in text
    assert text.index("Je veux devenir") < text.index("Une demande pour") < text.index("plaisir")

    for path in out.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        assert not ADDRESS.search(html), path
        assert not any(e in html for e in t.emails), path

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-overview.png"
    shot.unlink(missing_ok=True)
    browse(tmp_path, out / "index.html", f"--screenshot={shot}", "--window-size=1280,2000")
    phone = ARTIFACTS / "report-phone.png"
    browse(tmp_path, out / "index.html", f"--screenshot={phone}", "--window-size=390,1800")
    browse(
        tmp_path,
        out / "requests" / f"{WATCHED}.html",
        f"--screenshot={ARTIFACTS / 'report-request.png'}",
        "--window-size=1280,1200",
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
