"""`mailflow report`: the static site, opened in a real headless Chromium.

A seeded data set of one year (plus a few requests of the years around it, which must not
show) goes straight into the database, with a tally kept while generating; the test runs
`mailflow report` through the CLI (into a folder an earlier report of another year used),
reads the DOM Chromium renders from file:// and checks the headline figures, the minors'
marks, one request's timeline, that no address, script or external URL appears in any file
written, that the overview reads the same with JavaScript disabled, and keeps screenshots in
tests/artifacts/ for a human to look at (removed first, so none is left from an old run).

Chromium comes from Debian (`scripts/test` installs it when run as root). Without it this
test fails: a report nobody looked at in a browser is not tested.
"""

from __future__ import annotations

import json
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

from mailflow.cli.main import main
from mailflow.config import load_config
from mailflow.store.db import open_database
from mailflow.store.models import (
    Ambassador,
    Conversation,
    Event,
    InboundMessage,
    OutboundMail,
    Person,
    Request,
    database,
)
from tests.headless import Browser
from tests.testconfig import write_config

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
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
NO_SCRIPT = "--blink-settings=scriptEnabled=false"
SHOTS = (
    "report-overview.png",
    "report-overview-nojs.png",
    "report-phone.png",
    "report-request.png",
)
ADDRESS = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+")
URL = re.compile(r"(?:https?:)?//[^\s\"'<>)]+", re.IGNORECASE)
SVG_NS = "http://www.w3.org/2000/svg"
TRADES = {"D1102": "Boulanger / Boulangère", "J1501": "Aide-soignant / Aide-soignante"}
WATCHED = 7  # the request whose timeline is checked
# Words seen on the report's pages before they were all French (issue 12, items 7 and 8).
ENGLISH = ("understood", "offered", "failed", "request received by mail", "cause")
DEPARTMENTS = {"14": "14 · Calvados", "50": "50 · Manche", "2A": "2A · Corse-du-Sud"}


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
    scores: list[int] = field(default_factory=list)  # the 1..5 ones
    contacted: set[int] = field(default_factory=set)  # ambassadors offered a 2025 request
    active: set[int] = field(default_factory=set)
    minors: set[int] = field(default_factory=set)  # 2025 requests from people under 15
    rows: list[dict] = field(default_factory=list)  # the 2025 requests as generated
    matches: dict[int, str | None] = field(default_factory=dict)  # request -> its offer's


def french(n: float, digits: int = 0) -> str:
    return f"{n:,.{digits}f}".replace(",", "\u202f").replace(".", ",")


def generate(rng: random.Random) -> Tally:
    t = Tally()
    base = datetime(2024, 6, 1)
    quality = random.Random(7)  # offers' match quality, apart: the rest of the data unchanged
    ambassadors = [
        {
            "id": i,
            "email": f"amb{i}@pros.test",
            "first_name": "Marie" if i == 1 else f"Amb{i}",
            "last_name": "Leroy",
            "kind": "metier",
            "title": "Boulanger",
            "title_words": "boulanger",
            "department": "50" if i == 23 else "14",
            "active": i != 24,  # 21..24 are never offered anything; 24 has left
            "created_at": base,
            "updated_at": base,
        }
        for i in range(1, 25)
    ]
    t.active = {a["id"] for a in ambassadors if a["active"]}
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
        answer, score = None, None  # in 2025 only: 2026 has offers but no answer yet
        if year == 2025 and offered and (rid == WATCHED or rng.random() < 0.7):
            answer = created + timedelta(minutes=12 * rng.randint(1, 1500))  # 0.2 h steps
            score = rng.choice((None, 1, 3, 4, 5, 5, 7))  # 7: not a score
        escalated = created + timedelta(days=8) if rng.random() < 0.1 else None
        code = rng.choice((*TRADES, None))
        age = 12 if rid == WATCHED else rng.choice((None, 9, 12, 16, 22, 35, 60))
        conversation_at = created + timedelta(minutes=5)  # 31/12 23:58: offered in 2026
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
                "age": age,
                "situation": rng.choice(("collegien", "salarie", "parent", None)),
                "created_at": created,
                "updated_at": created,
                "first_answer_at": answer,
                "escalated_at": escalated,
                "feedback_score": score,
            }
        )
        ambassador = 1 if rid == WATCHED else rng.randint(1, 20)
        if offered:
            cid = len(conversations) + 1
            match = quality.choice((None, "exact", "exact", "stretched:trade", "stretched:region"))
            t.matches[rid] = match
            conversations.append(
                {
                    "id": cid,
                    "request": rid,
                    "ambassador": ambassador,
                    "ambassador_token": f"a{cid}",
                    "person_token": f"p{cid}",
                    "created_at": conversation_at,
                    "match_quality": match,
                }
            )
            if conversation_at.year == 2025:
                t.contacted.add(ambassador)
        if year != 2025:
            t.other_ids.append(rid)
            continue
        t.ids.append(rid)
        t.rows.append(requests[-1])
        t.people.add(person)
        t.offered += offered
        t.escalations += escalated is not None
        if age is not None and age < 15:
            t.minors.add(rid)
        if score in (1, 2, 3, 4, 5):
            t.scores.append(score)
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
        at=at, kind="state", request=WATCHED, old_state=None, new_state="new",
        cause="request received by mail",
    )  # fmt: skip
    Event.create(at=at, kind="understood", request=WATCHED, cause="age 12 from 'j'ai 12 ans'")
    Event.create(
        at=at + timedelta(minutes=1), kind="offered", request=WATCHED,
        cause="offered to ambassador #1 (same trade, same département, 0 open)",
    )  # fmt: skip
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
    OutboundMail.create(
        idempotency_key="ack-7", purpose="ack", message_id="<out2@x>",
        envelope_from="bounce@mailflow.test", recipient="p1@users.test",
        recipient_role="person", subject="Votre demande est transmise", raw=b"",
        status="failed", next_attempt_at=at, created_at=at + timedelta(minutes=2),
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
    path = write_config(tmp_path, database="report.sqlite3")
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


def totals_of(html: str) -> dict[str, str]:
    """The headline figures, label -> value, as the page shows them."""
    found = re.findall(r'class="value">([^<]+)</span> <span class="label">([^<]+)<', html)
    return {label: value for value, label in found}


def table_of(dom: str, ident: str) -> list[list[str]]:
    """The body rows of the breakdown table `ident` of the overview, cell texts."""
    found = re.search(rf'<section class="card[^"]*" id="{ident}">(.*?)</section>', dom, re.S)
    assert found, ident
    body = re.search(r"<tbody>(.*?)</tbody>", found.group(1), re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [[c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows]


def check_breakdowns(dom: str, t: Tally) -> None:
    """Every breakdown of `stats` is on the overview, in French, in the order `stats` gives."""

    def count(key: str, value: object) -> str:
        return str(sum(r[key] == value for r in t.rows))

    assert table_of(dom, "types") == [
        ["métier", count("kind", "metier")],
        ["formation", count("kind", "formation")],
        ["VAE", count("kind", "vae")],
        ["non précisé", count("kind", None)],
    ]
    assert table_of(dom, "domaines") == [
        ["D11 · Commerce alimentaire et métiers de bouche", count("code_rome", "D1102")],
        ["J15 · Soins paramédicaux", count("code_rome", "J1501")],
        ["non précisé", count("code_rome", None)],
    ]
    by_dept = table_of(dom, "departements")

    def never_met(r: dict) -> bool:  # unmatched and never answered (stats.py unmet_demand)
        return r["state"] == "unmatched" and r["first_answer_at"] is None

    unmet = {d: sum(r["department"] == d and never_met(r) for r in t.rows) for d in DEPARTMENTS}
    assert by_dept == [
        ["14 · Calvados", count("department", "14"), str(unmet["14"]), "22"],
        ["2A · Corse-du-Sud", count("department", "2A"), str(unmet["2A"]), "0"],
        ["50 · Manche", count("department", "50"), str(unmet["50"]), "1"],
        [
            "non précisé",
            count("department", None),
            str(sum(r["department"] is None and never_met(r) for r in t.rows)),
            "0",
        ],
    ]
    matches = [t.matches.get(r["id"], "none") for r in t.rows]
    assert table_of(dom, "correspondances") == [
        ["correspondance exacte", str(matches.count("exact"))],
        ["correspondance élargie", str(sum(str(m).startswith("stretched") for m in matches))],
        [
            "sans ambassadeur (demande non satisfaite)",
            str(
                sum(
                    t.matches.get(r["id"], "none") == "none" and r["state"] == "unmatched"
                    for r in t.rows
                )
            ),
        ],
        [
            "pas encore proposée",
            str(
                sum(
                    t.matches.get(r["id"], "none") == "none" and r["state"] != "unmatched"
                    for r in t.rows
                )
            ),
        ],
        ["proposée avant l'enregistrement de la correspondance", str(matches.count(None))],
    ]
    assert table_of(dom, "elargies") == [
        ["autre métier du même domaine", str(matches.count("stretched:trade"))],
        ["autre type de parcours", "0"],
        ["autre département", "0"],
        ["autre région", str(matches.count("stretched:region"))],
    ]
    ages = [row[0] for row in table_of(dom, "ages")]
    assert ages == [
        "moins de 10 ans", "10 à 15 ans", "16 à 17 ans", "18 à 25 ans", "26 à 49 ans",
        "50 ans et plus", "non précisé",
    ]  # fmt: skip
    situations = [row[0] for row in table_of(dom, "situations")]
    assert situations[0] == "collégien·ne" and "demandeur·se d'emploi" in situations
    assert table_of(dom, "non-satisfaites")  # the unmatched requests, by trade and place
    assert not re.search(r"\b(collegien|demandeur_emploi|under_10)\b", dom)


def report(config: Path, year: int, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["--config", str(config), "report", "--year", str(year), "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    return printed.out


def test_report_in_a_browser(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for name in SHOTS:  # nothing an earlier run left may pass for this run's pictures
        (ARTIFACTS / name).unlink(missing_ok=True)
    t = generate(random.Random(2025))
    out = tmp_path / "site"
    report(config, 2024, out, capsys)  # an earlier report in the same folder ...
    earlier = sorted((out / "requests").glob("*.html"))
    assert len(earlier) == 3
    (out / "notes.txt").write_text("les notes de la coordinatrice", encoding="utf-8")
    (out / "requests" / "a-garder.html").write_text("<p>à moi</p>", encoding="utf-8")
    printed = report(config, 2025, out, capsys)
    assert f"{len(t.ids) + 2} pages written" in printed
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written == {
        "index.html",
        "requests.html",
        *(f"requests/{i}.html" for i in t.ids),
        "notes.txt",  # ... whose pages of other requests are gone, and nothing else
        "requests/a-garder.html",
    }

    for name in sorted(written - {"notes.txt", "requests/a-garder.html"}):
        html = (out / name).read_text(encoding="utf-8")
        shown = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|title)>.*?</\1>", " ", html, flags=re.S))
        english = [w for w in ENGLISH if re.search(rf"\b{w}\b", shown, re.IGNORECASE)]
        assert not english, (name, english)
        assert "<script" not in html.lower(), name
        assert set(URL.findall(html)) <= {SVG_NS}, name  # nothing fetched from elsewhere
        assert not ADDRESS.search(html), name
        assert not any(e in html for e in t.emails), name

    dom = browse(tmp_path, out / "index.html", "--dump-dom")
    assert "<svg" in dom and "Demandes par mois" in dom
    assert "Heures en Europe/Paris" in dom and "UTC" not in dom  # the default timezone
    rate = f"{french(round(t.answered / t.offered, 4) * 100, 1)} %"
    median = f"{french(round(statistics.median(t.hours), 2), 1)} h"
    mean = f"{french(round(sum(t.scores) / len(t.scores), 2), 1)} / 5"
    expected = {
        "Demandes": str(len(t.ids)),
        "Personnes": str(len(t.people)),
        "Taux de réponse": rate,
        "Délai médian de 1re réponse": median,
        "Escalades": str(t.escalations),
        "Note moyenne des avis": mean,
        "Ambassadeurs sollicités": str(len(t.contacted)),
        "Ambassadeurs actifs jamais sollicités": str(len(t.active - t.contacted)),
    }
    assert totals_of(dom) == expected
    assert len(t.active - t.contacted) >= 3  # 21, 22, 23 at least
    buckets = [sum(lo <= h < hi for h in t.hours) for lo, hi in ((0, 24), (24, 72), (72, 168))]
    buckets += [sum(h >= 168 for h in t.hours), t.offered - t.answered]
    words = ("moins de 24 h", "1 à 3 j", "3 à 7 j", "plus de 7 j", "sans réponse")
    described = "; ".join(f"{w} : {n}" for w, n in zip(words, buckets, strict=True))
    assert described in dom  # the chart's <desc>, read by screen readers
    scores = "; ".join(f"note {k} : {t.scores.count(k)}" for k in range(1, 6))
    assert f"{scores}; sans note : {len(t.ids) - len(t.scores)}" in dom
    check_breakdowns(dom, t)

    # JavaScript off: the same page, the same figures and charts (and the switch works).
    # --dump-dom needs JavaScript itself: the DOM is read over the DevTools pipe instead.
    probe = tmp_path / "probe.html"
    probe.write_text("<title>avant</title><script>document.title = 'js'</script>")
    assert "<title>js</title>" in browse(tmp_path, probe, "--dump-dom")
    profile = tmp_path / "chrome-nojs"
    browser = Browser(chromium(), [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", NO_SCRIPT])
    try:
        assert "<title>avant</title>" in browser.dom(browser.open(probe))
        session = browser.open(out / "index.html", width=1280, height=2400)
        quiet = browser.dom(session)
        browser.screenshot(session, ARTIFACTS / "report-overview-nojs.png")
    finally:
        browser.close()
    assert totals_of(quiet) == expected and described in quiet and "<svg" in quiet

    listing = browse(tmp_path, out / "requests.html", "--dump-dom")
    rows = re.findall(r'<tr><td><a href="requests/(\d+)\.html">.*?</tr>', listing, re.S)
    assert sorted(int(i) for i in rows) == t.ids
    marked = {
        int(i)
        for i, row in re.findall(
            r'<tr><td><a href="requests/(\d+)\.html">(.*?)</tr>', listing, re.S
        )
        if "moins de 15 ans" in row
    }
    assert marked == t.minors and WATCHED in marked

    page = browse(tmp_path, out / "requests" / f"{WATCHED}.html", "--dump-dom")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "Demande #7 " in text and "12 ans (moins de 15 ans)" in text
    for expected_text in (
        "Message reçu De personne Léa à mailflow",
        "Je veux devenir boulangère",
        "– → nouvelle — motif : demande reçue par e-mail",
        "compris ce que mailflow a lu dans le message",
        "proposée proposée à l'ambassadeur·rice #1",
        "nouvelle → proposée — motif : proposée à Marie L. (Boulanger, 14)",
        "Message envoyé présentation à l'ambassadeur·rice De mailflow à ambassadeur·rice Marie L.",
        "Votre demande est transmise » échec d'envoi",
        "Une demande pour vous : boulangerie",
        "De ambassadeur·rice Marie L. à personne Léa",
        "écrivez-moi à [adresse masquée]",
        "proposée → répondue — motif : première réponse de l'ambassadrice",
    ):
        assert expected_text in text
    assert text.index("Je veux devenir") < text.index("Une demande pour") < text.index("plaisir")
    other = browse(tmp_path, out / "requests" / f"{min(set(t.ids) - t.minors)}.html", "--dump-dom")
    assert "moins de 15 ans" not in other

    assert main(["--config", str(config), "log", "--actions", "--json"]) == 0
    actions = json.loads(capsys.readouterr().out)["actions"]
    causes = [a["cause"] for a in actions if a["kind"] == "report"]
    assert causes == [
        f"report 2024 written to {out}: 5 pages",
        f"report 2025 written to {out}: {len(t.ids) + 2} pages",
    ]

    shots = {name: ARTIFACTS / name for name in SHOTS}
    browse(
        tmp_path,
        out / "index.html",
        f"--screenshot={shots['report-overview.png']}",
        "--window-size=1280,2400",
    )
    browse(
        tmp_path,
        out / "index.html",
        f"--screenshot={shots['report-phone.png']}",
        "--window-size=390,1800",
    )
    browse(
        tmp_path,
        out / "requests" / f"{WATCHED}.html",
        f"--screenshot={shots['report-request.png']}",
        "--window-size=1280,1200",
    )
    for name, shot in shots.items():
        assert shot.is_file(), name
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name


def test_a_year_without_answers_says_so(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate(random.Random(2025))  # 2026: two requests, offered or not, none answered
    out = tmp_path / "site"
    report(config, 2026, out, capsys)
    totals = totals_of((out / "index.html").read_text(encoding="utf-8"))
    assert totals["Délai médian de 1re réponse"] == "aucune réponse"
    assert totals["Note moyenne des avis"] == "aucun avis"
    assert totals["Demandes"] == "2"
    report(config, 2023, out, capsys)  # no request at all
    totals = totals_of((out / "index.html").read_text(encoding="utf-8"))
    assert totals["Taux de réponse"] == "–" and totals["Demandes"] == "0"
    assert totals["Délai médian de 1re réponse"] == "aucune réponse"
    assert not (out / "requests").exists() or not list((out / "requests").iterdir())
