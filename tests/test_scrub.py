"""scrub_text / scrub_html replace every written form of a party's address; find_leaks sees them."""

from __future__ import annotations

import time

import pytest

from mailflow.scrub import Secret, find_leaks, scrub_html, scrub_text

REAL = "Jean.Dupont@Example.org"
RELAY = "relay+aaaabbbbccccddddeeeeffff@mailflow.test"
JEAN = Secret(REAL, RELAY)
JEAN_NAMED = Secret(REAL, RELAY, names=("Jean Dupont",))

TEXT_VARIANTS = [
    "Jean.Dupont@Example.org",
    "jean.dupont@example.org",
    "JEAN.DUPONT@EXAMPLE.ORG",
    "jean.dupont at example.org",
    "jean.dupont (at) example.org",
    "jean.dupont[at]example.org",
    "jean.dupont [at] example.org",
    "jean.dupont {at} example.org",
    "jean.dupont arobase example.org",
    "jean dot dupont at example dot org",
    "jean (dot) dupont (at) example (dot) org",
    "jean.dupont @ example.org",
    "mailto:jean.dupont%40example.org",
    "mailto:jean%2Edupont%40example%2Eorg",
    "mailto:Jean.Dupont@example.org?subject=Rendez-vous",
    "jean.dupont&#64;example.org",
    "jean.dupont&#064;example.org",
    "jean.dupont&#x40;example.org",
    "jean.dupont&commat;example.org",
    "&#106;&#101;&#97;&#110;.dupont@example.org",
    "De : Jean Dupont <jean.dupont@example.org>",
    "From: Jean Dupont <jean.dupont@example.org>",
    "À : Jean Dupont <jean.dupont@example.org>; contact@region.fr",
    "To: jean.dupont@example.org",
    "Cc : Jean Dupont <jean.dupont@example.org>",
    "From: Jean Dupont [mailto:jean.dupont@example.org]",
    "Le lun. 2 mars 2026 à 10:12, Jean Dupont <jean.dupont@example.org> a écrit :",
    "On Mon, Mar 2, 2026 at 10:12 AM Jean Dupont <jean.dupont@example.org> wrote:",
    "> Le 2 mars 2026 à 10:12, Jean Dupont <jean.dupont@example.org> a écrit :",
    "> > > De : Jean Dupont <jean.dupont@example.org>",
    "Le lun. 2 mars 2026 à 10:12, Jean Dupont <\njean.dupont@example.org> a écrit :",
    "> Jean - jean dot dupont at\n> example dot org",
    '"jean.dupont@example.org" <jean.dupont@example.org>',
    '"Jean - jean.dupont at example.org" <jean.dupont@example.org>',
    "(jean.dupont@example.org)",
    "écrivez à jean.dupont@example.org.",
]


@pytest.mark.parametrize("text", TEXT_VARIANTS)
def test_scrub_text_replaces_every_variant(text: str) -> None:
    assert find_leaks(text, [JEAN]), "the detector must see the variant before scrubbing"
    scrubbed = scrub_text(text, [JEAN_NAMED])
    assert find_leaks(scrubbed, [JEAN_NAMED]) == []
    assert RELAY in scrubbed
    assert "dupont" not in scrubbed.lower().replace(RELAY, "")


HTML_VARIANTS = [
    '<a href="mailto:jean.dupont@example.org">jean.dupont@example.org</a>',
    '<a href="mailto:jean.dupont%40example.org">écrire</a>',
    '<a href="mailto:Jean.Dupont@example.org?subject=Stage%20boulangerie">lien</a>',
    "<p>jean.dupont&#64;example.org</p>",
    "<p>jean.dupont&#x40;example.org</p>",
    "<b>De&nbsp;:</b> Jean Dupont &lt;jean.dupont@example.org&gt;",
    '<span title="jean.dupont@example.org">Jean</span>',
    "jean.dupont@<span>example</span>.org",
    "jean&nbsp;dot&nbsp;dupont&nbsp;at&nbsp;example&nbsp;dot&nbsp;org",
    '<div class="gmail_attr">Le lun. 2 mars 2026 à 10:12, Jean Dupont &lt;<a '
    'href="mailto:jean.dupont@example.org">jean.dupont@example.org</a>&gt; a écrit&nbsp;:</div>',
]


@pytest.mark.parametrize("source", HTML_VARIANTS)
def test_scrub_html_replaces_every_variant(source: str) -> None:
    assert find_leaks(source, [JEAN])
    scrubbed = scrub_html(source, [JEAN])
    assert find_leaks(scrubbed, [JEAN]) == []
    assert RELAY in scrubbed


def test_html_replacement_is_escaped_so_attributes_stay_valid() -> None:
    label = Secret(REAL, "l'ambassadeur")
    scrubbed = scrub_html("<a href='mailto:jean.dupont@example.org'>x</a>", [label])
    assert scrubbed == "<a href='mailto:l&#x27;ambassadeur'>x</a>"


@pytest.mark.parametrize(
    "text",
    [
        "Écrivez à contact@region.fr ou à orientation@region.fr.",
        "marie.dupont@example.org et jean.dupont@example.com",
        "xjean.dupont@example.org, jean.dupont@sub.example.org, jean.dupont@example.organic",
        "dupont@example.org",
        "Jean Dupont viendra mercredi.",  # a name is only hidden when asked for
        "We met at example dot org's booth.",
    ],
)
def test_other_addresses_are_left_alone(text: str) -> None:
    assert scrub_text(text, [JEAN]) == text
    assert scrub_html(text, [JEAN]) == text


def test_a_longer_domain_is_scrubbed_on_the_safe_side() -> None:
    """A filename or a sentence glued to the address matters more than a rare x.org.uk."""
    assert scrub_text("jean.dupont@example.org.vcf", [JEAN]) == f"{RELAY}.vcf"
    assert scrub_text("jean.dupont@example.org.Merci", [JEAN]) == f"{RELAY}.Merci"


def test_a_shorter_secret_does_not_eat_a_longer_address() -> None:
    short = Secret("dupont@example.org", RELAY)
    assert scrub_text("jean.dupont@example.org", [short]) == "jean.dupont@example.org"
    assert scrub_text("a-dupont@example.org", [short]) == "a-dupont@example.org"


def test_text_without_secret_is_unchanged_byte_for_byte() -> None:
    text = "Bonjour,\r\n\r\n> Léa Martin <lea@orange.fr> a écrit :\r\n> Merci !\r\n"
    assert scrub_text(text, [JEAN]) == text


def test_names_are_hidden_and_not_doubled_before_the_address() -> None:
    text = "De : Jean Dupont <jean.dupont@example.org>\nSigné : JEAN DUPONT"
    scrubbed = scrub_text(text, [JEAN_NAMED])
    assert scrubbed == f"De : <{RELAY}>\nSigné : {RELAY}"
    assert find_leaks(scrubbed, [JEAN_NAMED]) == []


def test_quoted_display_name_with_secret_name_is_dropped() -> None:
    scrubbed = scrub_text('"Jean Dupont" <jean.dupont@example.org>', [JEAN_NAMED])
    assert scrubbed == f"<{RELAY}>"


def test_label_replacement_in_text() -> None:
    label = Secret("lea.martin@orange.fr", "l'ambassadrice", names=("Léa Martin",))
    text = "Le 2 mars 2026 à 10:12, Léa Martin <lea.martin@orange.fr> a écrit :"
    assert scrub_text(text, [label]) == "Le 2 mars 2026 à 10:12, <l'ambassadrice> a écrit :"


def test_several_secrets_at_once() -> None:
    lea = Secret("lea.martin@orange.fr", "relay+ggggiiiijjjjkkkkllll@mailflow.test")
    text = "To: jean.dupont@example.org\nCc: lea.martin@orange.fr, contact@region.fr"
    scrubbed = scrub_text(text, [JEAN, lea])
    assert find_leaks(scrubbed, [JEAN, lea]) == []
    assert "contact@region.fr" in scrubbed


def test_find_leaks_catches_what_scrub_does_not_handle() -> None:
    """The detector is stronger than the scrubber: an address cut inside a word by a wrap."""
    split = "jean.dupont@exam\n> ple.org"
    assert scrub_text(split, [JEAN]) == split
    assert find_leaks(split, [JEAN])


def test_find_leaks_reports_double_escaped_and_accented_names() -> None:
    assert find_leaks("jean.dupont&amp;#64;example.org", [JEAN])
    assert find_leaks("Signé : JÉAN DUPONT", [JEAN_NAMED])
    assert find_leaks("rien ici, contact@region.fr", [JEAN_NAMED]) == []


def test_secret_must_be_an_address() -> None:
    with pytest.raises(ValueError):
        Secret("jean.dupont", RELAY)


def test_no_catastrophic_backtracking_on_a_near_miss() -> None:
    """A local part followed by a long run of tags once took seconds (2^n backtracking)."""
    secret = Secret("jean.dupont.de.la.fontaine@example.org", RELAY, names=("Jean Dupont",))
    source = "jean.dupont.de.la.fontaine" + "<td></td>\n" * 20000
    started = time.perf_counter()
    assert scrub_html(source, [secret]) == source
    assert scrub_text(source, [secret]) == source
    assert time.perf_counter() - started < 1.0
