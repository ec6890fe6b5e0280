"""scrub_text / scrub_html replace every written form of a party's address; find_leaks sees them."""

from __future__ import annotations

import html
import time

import pytest

from mailflow.masking.address_variants import AT_SYMBOLS, AT_WORDS, BRACKETS, DOT_SYMBOLS, DOT_WORDS
from mailflow.masking.leaks import find_leaks
from mailflow.masking.scrub import MASK, Others, Secret, scrub_html, scrub_text

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
    # what the audit found slipping through
    "jean . dupont @ example . org",
    "jean.dupont [@] example [.] org",
    "jean.dupont <at> example <dot> org",
    "jean.dupont(at)example(dot)org",
    "jean.dupont (at) example (dot) org",
    "jean.dupont arobase example.org",
    "jean.dupont chez example.org",
    "jean.dupont＠example.org",
    "ｊｅａｎ．ｄｕｐｏｎｔ＠ｅｘａｍｐｌｅ．ｏｒｇ",
    "jean.dupont\u200b@example.org",
    "jean.du\u200bpont@exam\u200cple.org",
    "jean.du\u00adpont@example.org",
    "jean.dupont&shy;@example.org",
    "jean.dupont@example.orgMerci beaucoup",
    "Écrivez-moi : jean.dupont@example.orgBonne journée",
    "jean.dupont%40example.org",
    "jean.dupont&#64;example.org",
    "jean.dupont&commat;example.org",
    "jean.dupont&amp;#64;example.org",
    "jean.dupont=40example.org",
    "=?utf-8?q?Jean_=28jean=2Edupont=40example=2Eorg=29?= <x@y.test>",
    "Jéan.Dupont@Exâmple.org",
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
    # what the audit found slipping through
    "<p>jean . dupont @ example . org</p>",
    "<p>jean.dupont [@] example [.] org</p>",
    "<p>jean.dupont &lt;at&gt; example &lt;dot&gt; org</p>",
    "<p>jean.dupont (at) example (dot) org</p>",
    "<p>jean.dupont arobase example.org</p>",
    "<p>jean.dupont＠example.org</p>",
    "<p>jean.dupont&#xff20;example.org</p>",
    "<p>jean.dupont\u200b@example.org</p>",
    "<p>jean.du&shy;pont@example.org</p>",
    "<p>jean.du&#173;pont@exam&#8203;ple.org</p>",
    "<p>jean.dupont@example.orgMerci</p>",
    '<a href="mailto:jean.dupont%40example.org">x</a>',
    "<p>jean.dupont&#64;example.org</p>",
    "<p>jean.dupont&commat;example.org</p>",
    "<p>jean.dupont&amp;#64;example.org</p>",
    "<p>jean.<b>dupont</b>@example.org</p>",
    "<p><span>jean</span>.dupont<span>@</span>exam<wbr>ple.org</p>",
]


@pytest.mark.parametrize("source", HTML_VARIANTS)
def test_scrub_html_replaces_every_variant(source: str) -> None:
    assert find_leaks(source, [JEAN])
    scrubbed = scrub_html(source, [JEAN])
    assert find_leaks(scrubbed, [JEAN]) == []
    assert RELAY in scrubbed


def test_html_tags_inside_a_replaced_address_are_kept() -> None:
    assert scrub_html("<p>jean.<b>dupont</b>@example.org</p>", [JEAN]) == f"<p>{RELAY}<b></b></p>"
    assert scrub_html("<b>jean.dupont</b>@example.org", [JEAN]) == f"<b>{RELAY}</b>"


def test_the_rest_of_the_text_is_kept_byte_for_byte() -> None:
    text = "Bonjour\u00a0!\r\n> Écrivez à ＪＥＡＮ.dupont\u200b@example.org, merci ﬁnalement\r\n"
    assert scrub_text(text, [JEAN]) == f"Bonjour\u00a0!\r\n> Écrivez à {RELAY}, merci ﬁnalement\r\n"


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
    assert scrub_text("jean.dupont@example.orgMerci", [JEAN]) == f"{RELAY}Merci"


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


# ---------------------------------------------------------------- shared variants, both sides


def written(at: str, dot: str) -> str:
    return f"jean{dot}dupont{at}example{dot}org"


AT_FORMS = [*AT_SYMBOLS, *(f" {w} " for w in AT_WORDS)]
AT_FORMS += [f"{o}{w}{c}" for o, c in BRACKETS for w in (*AT_WORDS, "@")]
DOT_FORMS = [*DOT_SYMBOLS, *(f" {w} " for w in DOT_WORDS), " . "]
DOT_FORMS += [f" {o}{w}{c} " for o, c in BRACKETS for w in (*DOT_WORDS, ".")]


@pytest.mark.parametrize("at", AT_FORMS)
@pytest.mark.parametrize("dot", DOT_FORMS)
def test_every_listed_variant_is_both_detected_and_scrubbed(at: str, dot: str) -> None:
    """One list of variants (address_variants.AT_SYMBOLS, ...) feeds both sides: neither can lag."""
    text = f"Mon adresse : {written(at, dot)}, à bientôt"
    assert find_leaks(text, [JEAN]), text
    assert scrub_text(text, [JEAN]) == f"Mon adresse : {RELAY}, à bientôt"
    source = f"<p>Mon adresse : {html.escape(written(at, dot))}</p>"
    assert find_leaks(source, [JEAN]), source
    assert scrub_html(source, [JEAN]) == f"<p>Mon adresse : {RELAY}</p>"


# ---------------------------------------------------------------- third parties


OTHERS = Others.keeping([RELAY, "relay@mailflow.test"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Cc : RH <rh@entreprise.test>", f"Cc : RH <{MASK}>"),
        ("De : Paul [mailto:paul.tiers@entreprise.test]", f"De : Paul [mailto:{MASK}]"),
        ("à josé@exemple.test ou rh [at] entreprise (dot) test", f"à {MASK} ou {MASK}"),
        ("rh%40entreprise.test, rh&#64;entreprise.test", f"{MASK}, {MASK}"),
        ("paul＠entreprise.test", MASK),
        ("https://www.example.fr/stage?id=3&x=1 reste lisible", None),
        ("https://x.test/inscription?email=rh%40entreprise.test&lang=fr",
         f"https://x.test/inscription?email={MASK}&lang=fr"),
        ("mailto:rh@entreprise.test?subject=Stage", f"mailto:{MASK}?subject=Stage"),
        (f"Répondez à {RELAY} ou à relay@mailflow.test", None),
        ("autre : relay+zzzzzzzzzzzzzzzzzzzzzzzz@mailflow.test", f"autre : {MASK}"),
        ("[cid:image001.png@01D9ABCD.12345670] prix : 2@2.50 €, l'@tous", None),
        ("<part1.5B2C1E3F.7A8D9B0C@example.test> cid:part1.5B2C1E3F.7A8D9B0C@example.test",
         f"<{MASK}> cid:part1.5B2C1E3F.7A8D9B0C@example.test"),
    ],
)  # fmt: skip
def test_every_other_address_is_masked_in_text(text: str, expected: str | None) -> None:
    assert scrub_text(text, [JEAN], OTHERS) == (text if expected is None else expected)


def test_other_addresses_in_html_links_and_quoted_headers() -> None:
    source = (
        '<div id="divRplyFwdMsg"><b>De :</b> Paul &lt;<a href="mailto:paul@entreprise.test">'
        "paul@entreprise.test</a>&gt;<br><b>Cc :</b> rh<span>@</span>entreprise.test</div>"
        '<a href="https://www.example.fr/offre?ref=12">offre</a><img src="cid:logo@x.test">'
    )
    assert scrub_html(source, [JEAN], OTHERS) == (
        f'<div id="divRplyFwdMsg"><b>De :</b> Paul &lt;<a href="mailto:{MASK}">'
        f"{MASK}</a>&gt;<br><b>Cc :</b> {MASK}<span></span></div>"
        '<a href="https://www.example.fr/offre?ref=12">offre</a><img src="cid:logo@x.test">'
    )


def test_a_party_address_becomes_its_relay_address_not_the_mask() -> None:
    text = "jean.dupont@example.org, rh@entreprise.test"
    assert scrub_text(text, [JEAN], OTHERS) == f"{RELAY}, {MASK}"


def test_masking_a_long_run_of_address_characters_is_linear() -> None:
    text = "a" * 200_000 + " " + "b.c" * 50_000
    started = time.perf_counter()
    assert scrub_text(text, [JEAN], OTHERS) == text
    assert time.perf_counter() - started < 2.0


def test_a_party_address_glued_after_another_is_scrubbed_too() -> None:
    """Found by the property test: "Demande person1@users.test28amb1@pros.test)" relayed
    the second party's address, seen as a word glued to the first."""
    lea = Secret("person1@users.test", "relay+lea@mailflow.test")
    marie = Secret("amb1@pros.test", "relay+marie@mailflow.test")
    for text in (
        "Re: Demande person1@users.test28amb1@pros.test)",
        "x@autre.test_AMB1@PROS.TEST et person1@users.testperson1@users.test",
    ):
        for scrub in (scrub_text, scrub_html):
            scrubbed = scrub(text, [lea, marie], Others.keeping(["relay+lea@mailflow.test"]))
            assert "amb1@pros.test" not in scrubbed.lower(), scrubbed
            assert "person1@users.test" not in scrubbed.lower(), scrubbed
            assert find_leaks(scrubbed, [lea, marie]) == []
