"""Requests written in English (issue 13): told from French ones, and understood as well.

Some families in Normandy write in English ("My son is 15 and would like to meet an
electrician near Caen"). The cases below are other wordings than the corpus's, and traps
each rule must not fire on.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mailflow.core.values import ParsedRequest
from mailflow.errors import RulesError
from mailflow.understand.english_trades import EnglishTrades, singular
from mailflow.understand.language import LanguageRules, detect, merged
from mailflow.understand.mail import UnderstandingRules, understand
from mailflow.understand.referential import Referential
from tests.help_form import fill, quoted
from tests.help_form import form_lines as help_form_lines

RULES = Path(__file__).resolve().parents[2] / "rules"
TODAY = date(2026, 12, 7)


def read(body: str, ref: Referential, rules: UnderstandingRules) -> ParsedRequest:
    return understand("", body, ref, rules, TODAY)


# --- the language ---------------------------------------------------------------------------

ENGLISH = [
    "Hi, my son is 15 and would like to meet a plumber near Vire.",
    "Hello, I am looking for someone who works as a florist. Thanks!",
    "Is there anyone in Caen who could talk to my daughter about nursing?",
    "Hi, how does it work? Is it free? Thanks",
    "Dear Madam, I would like to do a CAP pâtisserie at the CFA de Caen. Best regards",
    "My daughter is in terminale at the Lycée Victor Hugo de Caen and wants to be a vet.",
    "Bonjour, my daughter is 14 and would like to meet a vet near Caen. Merci beaucoup!",
]
FRENCH = [
    "Bonjour, mon fils a 15 ans et voudrait rencontrer un plombier près de Vire.",
    "bjr jveux etre mecano svp",
    "Bonjour, je suis web designer et je voudrais devenir game designer. Merci",
    "Bonjour, ma fille est fan de séries (she loves The Crown) et voudrait devenir actrice.",
    "Bonjour, je travaille comme serveuse à Caen. Best regards, Julie",
    "",
    "Hello",
    "OK merci",
    # a French request above an English footer
    "Bonjour, je voudrais rencontrer un boulanger à Caen pour mon fils qui a 15 ans et qui est"
    " en 3e au collège. Il aimerait faire son stage chez lui. Merci beaucoup, Julie Martin,"
    " assistante de direction\n\nThis e-mail and any attachments are confidential and intended"
    " solely for the addressee. If you have received it in error, please notify the sender"
    " and delete it. Thank you for your understanding and have a nice day.",
    "Bonjour, je cherche un plombier à Caen. Merci\n\nThis message and any attachment are"
    " confidential. If you are not the intended recipient, please delete it and tell us.",
]


@pytest.mark.parametrize("text", ENGLISH)
def test_english_mails_are_told_english(text: str, rules: UnderstandingRules) -> None:
    assert detect(text, rules.language) == "en"


@pytest.mark.parametrize("text", FRENCH)
def test_french_or_short_mails_stay_french(text: str, rules: UnderstandingRules) -> None:
    assert detect(text, rules.language) == "fr"


def test_without_the_english_rules_every_mail_is_french() -> None:
    assert detect("Hi, my son would like to meet a plumber", None) == "fr"
    assert detect("Hi, my son would like to meet a plumber", LanguageRules()) == "fr"


def test_the_request_records_its_language(ref: Referential, rules: UnderstandingRules) -> None:
    assert read(ENGLISH[0], ref, rules).lang == "en"
    assert read(FRENCH[0], ref, rules).lang == "fr"


def test_a_reply_under_our_french_subject_is_english(
    ref: Referential, rules: UnderstandingRules
) -> None:
    subject = "Re: Pour trouver votre ambassadeur, il nous manque une précision"
    body = "Sorry, I should have said: my son is 15 and he would like to meet a baker."
    assert understand(subject, body, ref, rules, TODAY).lang == "en"


def test_english_rules_add_to_the_french_ones() -> None:
    base = {
        "kinds": {"vae": ["vae"], "metier": ["devenir"]},
        "situations": [{"name": "lyceen", "phrases": ["au lycee"]}, {"name": "salarie"}],
        "age": {"min": 8},
    }
    extra = {
        "kinds": {"metier": ["become"]},
        "situations": [{"name": "lyceen", "phrases": ["high school"]}, {"name": "other"}],
        "age": {"min": 10},
    }
    out = merged(base, extra)
    assert out["kinds"] == {"vae": ["vae"], "metier": ["devenir", "become"]}
    assert [s["name"] for s in out["situations"]] == ["lyceen", "salarie", "other"]
    assert out["situations"][0]["phrases"] == ["au lycee", "high school"]
    assert out["age"]["min"] == 10
    assert base["kinds"]["metier"] == ["devenir"]  # unchanged


# --- trades -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "one"),
    [
        ("electricians", "electrician"),
        ("firemen", "fireman"),
        ("nannies", "nanny"),
        ("bus", "bus"),
        ("glass", "glass"),
        ("vet", "vet"),
    ],
)
def test_singular(word: str, one: str) -> None:
    assert singular(word) == one


def test_a_trade_table_naming_no_rome_code_is_refused(ref: Referential) -> None:
    with pytest.raises(RulesError, match="Z9999"):
        EnglishTrades.build({"astronaut": "Z9999"}, ref.trades)


# (what the person writes, the ROME code wanted)
TRADES = [
    ("Hi, my son would love to meet an electrician.", "F1602"),
    ("Hello, my daughter wants to become a hairdresser.", "D1202"),
    ("Hi, I'd like to talk to a vet nurse.", "A1501"),  # not the vet
    ("Hi, my son dreams of being a vet.", "A1504"),
    ("Hello, I would like to speak with a web developer please.", "M1855"),
    ("Hi, our daughter wants to work with a game developer one day.", "M1831"),
    ("Hi, is there a plumber I could talk to?", "F1603"),
    ("Hello, she wants to meet police officers.", "K1708"),
    ("Hi, my son wants to be a firefighter.", "K1705"),
    ("Hello, I'd like to become a care assistant.", "J1501"),
    ("Hello, I'd like to meet a physiotherapist.", "J1404"),
    ("Hello, could my son meet a farmer?", "A1416"),
    ("Hi, he would like to meet a lorry driver.", "N4101"),
    ("Hi, she wants to be a pastry chef.", "D1104"),  # not the chef
    ("Hi, my son would like to meet a chef.", "G1601"),
    ("Hi, my daughter would like to become a nurse who works with children.", "J1507"),
    # a French trade name in an English mail is read too
    ("Hi, she would like to talk to an auxiliaire de puériculture.", "J1304"),
    ("Hello, I want to meet a boulanger, please.", "D1102"),
    # a trade's field or workplace, as people write it
    ("Hi, she wants to study nursing in France.", "J1506"),
    ("Hello, my son would like a career in plumbing.", "F1603"),
    ("Could my daughter talk to someone who works in a bank?", "C1206"),
    ("Hi, he would like to join the police one day.", "K1708"),
    ("Hello, I'm interested in web development.", "M1855"),
    ("Hi, my son wants to study architecture.", "F1101"),
]


@pytest.mark.parametrize(("body", "code"), TRADES)
def test_english_trade_names(
    body: str, code: str, ref: Referential, rules: UnderstandingRules
) -> None:
    parsed = read(body, ref, rules)
    assert parsed.lang == "en"
    assert parsed.trade is not None and parsed.trade.code_rome == code, parsed.notes


# The trade held or refused is not the one wanted.
WANTED = [
    ("I work as a waitress in Caen but I'd like to become a baker.", "D1102"),
    ("I'm a care assistant and I would like to meet a nurse.", "J1506"),
    ("I have been working as a receptionist for years; I'd like to retrain as a florist.", "D1209"),
    ("My father is a plumber but I would like to become an electrician.", "F1602"),
    ("He doesn't want to be a mechanic, he'd rather be an electrician.", "F1602"),
    ("She is not interested in being a hairdresser. She wants to meet a beautician.", "D1208"),
]


@pytest.mark.parametrize(("body", "code"), WANTED)
def test_the_trade_wanted_not_held_nor_refused(
    body: str, code: str, ref: Referential, rules: UnderstandingRules
) -> None:
    parsed = read(f"Hello,\n{body}\nThanks", ref, rules)
    assert parsed.trade is not None and parsed.trade.code_rome == code, parsed.notes


def test_a_trade_held_alone_is_still_the_request(
    ref: Referential, rules: UnderstandingRules
) -> None:
    parsed = read("Hi, I've been a hairdresser for 9 years. Can I do a VAE?", ref, rules)
    assert parsed.kind == "vae"
    assert parsed.trade is not None and parsed.trade.code_rome == "D1202"


def test_a_workplace_holding_a_trade_word_is_no_trade(
    ref: Referential, rules: UnderstandingRules
) -> None:
    parsed = read("Hi, I work in a nursing home and I'd like to meet a cook.", ref, rules)
    assert parsed.trade is not None and parsed.trade.code_rome == "G1609"


def test_english_trade_words_are_not_read_in_french_mails(
    ref: Referential, rules: UnderstandingRules
) -> None:
    parsed = read("Bonjour, je voudrais rencontrer un nurse à Caen. Merci", ref, rules)
    assert parsed.lang == "fr"
    assert parsed.trade is None or parsed.trade.code_rome != "J1506"


@pytest.mark.parametrize(
    "body",
    [
        "My son has no idea what he wants to do. Can someone help?",
        "My daughter doesn't know what job she'd like later.",
        "I don't know what to do next year, I'm in 3e.",
    ],
)
def test_no_idea_yet_is_about_trades(
    body: str, ref: Referential, rules: UnderstandingRules
) -> None:
    parsed = read(f"Hello,\n{body}\nThanks", ref, rules)
    assert parsed.kind == "metier" and parsed.trade is None, parsed.notes


def test_an_offer_to_be_an_ambassador_asks_nothing(
    ref: Referential, rules: UnderstandingRules
) -> None:
    body = "Hello, I'm a retired baker in Caen and I would like to become an ambassador."
    parsed = read(body, ref, rules)
    assert parsed.kind is None and parsed.trade is None, parsed.notes


def test_a_trade_rome_lacks_is_still_understood(
    ref: Referential, rules: UnderstandingRules
) -> None:
    parsed = read("Hello, my son dreams of becoming an astronaut. Thanks", ref, rules)
    assert parsed.trade is None
    assert parsed.trade_unlisted and parsed.trade_text == "astronaut"


@pytest.mark.parametrize(
    "body",
    [
        "Hello, can someone talk to my son about his future? Thanks",
        "Hi, could a volunteer meet my daughter? She has no idea yet.",
        "Hello, I would like to speak with a professional. Regards",
    ],
)
def test_vague_words_are_no_trade(body: str, ref: Referential, rules: UnderstandingRules) -> None:
    parsed = read(body, ref, rules)
    assert parsed.trade is None and not parsed.trade_unlisted, parsed.notes


# --- kinds ------------------------------------------------------------------------------------

KINDS = [
    ("My son would like to meet an electrician.", "metier"),
    ("Hi, I'm a job seeker and I'd like to become a baker.", "metier"),
    ("I'm studying law at university and I'd like to meet a lawyer.", "metier"),
    ("I finished my BTS last year and I'd like to meet a web designer.", "metier"),
    ("She is doing a CAP coiffure and would like to meet a hairdresser.", "metier"),
    ("My son would like to do an apprenticeship as a carpenter.", "formation"),
    ("I'm looking for a training course to become a care assistant.", "formation"),
    ("She wants to study nursing. Could she talk to a nursing student?", "formation"),
    ("I'd like to train as a plumber; could I speak with someone who did it?", "formation"),
    ("My daughter wants to do a CAP coiffure next year.", "formation"),
    (
        "My daughter would like to do a bac pro in hairdressing; could she meet someone?",
        "formation",
    ),
    ("He'd like to do a BTS in computing. Could he talk to a developer?", "formation"),
    ("I'd like to get a French diploma through VAE as a cook.", "vae"),
    ("I'd like to get my experience recognised: I have been a chef for 10 years.", "vae"),
    ("Could I get a French diploma for my experience as a florist?", "vae"),
    ("She wants to apply to an IFSI next year to be a nurse.", "formation"),
    ("He is thinking about a BTS; could he talk to someone about it?", "formation"),
    ("He is in BTS SIO and would like to meet a web developer.", "metier"),
]


@pytest.mark.parametrize(("body", "kind"), KINDS)
def test_kinds(body: str, kind: str, ref: Referential, rules: UnderstandingRules) -> None:
    parsed = read(f"Hello,\n{body}\nThanks", ref, rules)
    assert parsed.kind == kind, parsed.notes


# --- ages -------------------------------------------------------------------------------------

AGES = [
    ("My son is 15 and would like to meet a baker.", 15),
    ("My daughter (16) wants to meet a florist.", 16),
    ("Our son Lucas (14) wants to meet a baker.", 14),
    ("My son Jack, 13, would like to meet a baker.", 13),
    ("My 15-year-old daughter wants to become a vet.", 15),
    ("I am 17 and I want to be a plumber.", 17),
    ("I'm 38, currently working as a receptionist.", 38),
    ("Hi, I'm a 30-year-old nanny and I'd like to meet a nurse.", 30),
    ("My nephew, aged 14, wants to meet a baker.", 14),
    ("My daughter is fourteen and wants to meet a vet.", 14),
    ("hello my daughter 14 want to be hairdresser", 14),
    ("I'm writing for my friend's daughter Amy, 15, who would like to meet a baker.", 15),
    ("Is it realistic to retrain as a nurse at 45?", 45),
    ("One of my students, Emma (16), would like to meet a pilot.", 16),
    ("She is 14 and in 4e. She wants to meet a vet.", 14),
    ("I'm helping a young man of 19 who would like to become a chef.", 19),
    ("My son is fifteen years old and wants to meet a baker.", 15),
    ("I'm 45 and I have been working as a cook for 20 years.", 45),
    ("A student of mine, 16, in 2nde, would like to meet a physiotherapist.", 16),
]


@pytest.mark.parametrize(("body", "age"), AGES)
def test_ages(body: str, age: int, ref: Referential, rules: UnderstandingRules) -> None:
    parsed = read(f"Hello,\n{body}\nThanks", ref, rules)
    assert parsed.age == age, parsed.notes


NO_AGES = [
    "I have been a nurse for 12 years and would like to do a VAE.",
    "I've worked in a restaurant for the last 4 years. I'd like to meet a chef.",
    "We live 15 minutes from Caen. My son wants to meet a baker.",
    "My kids are 12 and 15. Can they meet a baker?",
    "He is in year 10 and wants to meet a plumber.",
    "I have 15 years of experience in kitchens. Can I do a VAE?",
    "Could we meet at 10 am near Caen? My son wants to meet a baker.",
]


@pytest.mark.parametrize("body", NO_AGES)
def test_durations_and_other_numbers_are_no_age(
    body: str, ref: Referential, rules: UnderstandingRules
) -> None:
    parsed = read(f"Hello,\n{body}\nThanks", ref, rules)
    assert parsed.age is None, parsed.notes


def test_the_age_of_the_child_not_the_parent(ref: Referential, rules: UnderstandingRules) -> None:
    parsed = read("Hello, I'm 45 and my daughter is 13. She'd like to meet a vet.", ref, rules)
    assert parsed.age == 13, parsed.notes


# --- situations ------------------------------------------------------------------------------

SITUATIONS = [
    ("My son is in 3e and would like to meet a baker.", "collegien"),
    ("He is in year 9 and wants to meet a plumber.", "collegien"),
    ("My son is a Year 8 pupil and wants to meet a plumber.", "collegien"),
    ("I teach a Year 12 student who would like to meet a florist.", "lyceen"),
    ("I'm in 4e at the collège in Falaise and I want to be a vet.", "collegien"),
    ("My daughter is in terminale and wants to be a vet.", "lyceen"),
    ("I'm in year 12 at high school and want to become a pilot.", "lyceen"),
    ("My son is finishing his bac and wants to meet an architect.", "lyceen"),
    ("I'm an apprentice baker but I'd like to become a pastry chef.", "apprenti"),
    ("My son is an apprentice in a garage and wants to meet a car body repairer.", "apprenti"),
    ("I'm doing an apprenticeship in Caen and would like to meet a chef.", "apprenti"),
    ("My son is doing a BTS in alternance and wants to talk to a car mechanic.", "apprenti"),
    ("I'm a university student and I'd like to meet a lawyer.", "etudiant"),
    ("I'm unemployed and would like to meet a florist.", "demandeur_emploi"),
    ("I am a job seeker and I'd like to meet a baker.", "demandeur_emploi"),
    ("I'm looking for a job and would like to meet a plumber.", "demandeur_emploi"),
    ("I work as a waitress and I'd like to become a baker.", "salarie"),
    ("I have been working as a care assistant for 5 years; can I do a VAE?", "salarie"),
    ("I've been a hairdresser for 9 years. Can I do a VAE?", "salarie"),
    ("I'm a cook in a restaurant and I'd like to get a French diploma (VAE).", "salarie"),
    # a teacher's own school is the class of the pupil the mail is for
    (
        "I teach maths at the lycée in Lisieux. One of my pupils would like to meet a nurse.",
        "lyceen",
    ),
    (
        "I'm a teacher at a collège in Flers and some of my students want to meet a baker.",
        "collegien",
    ),
]


@pytest.mark.parametrize(("body", "situation"), SITUATIONS)
def test_situations(body: str, situation: str, ref: Referential, rules: UnderstandingRules) -> None:
    parsed = read(f"Hello,\n{body}\nThanks", ref, rules)
    assert parsed.situation == situation, parsed.notes


NO_SITUATIONS = [
    "My son would like to do an apprenticeship as a carpenter.",  # a wish, not a fact
    "Is there a nursing student I could talk to?",  # the one to meet
    "Could he speak to an apprentice electrician?",  # the one to meet
    "I would like to meet a plumber. My father is unemployed.",  # a relative's
    "My daughter (13) wants to be a vet.",
    "I was a nurse in Poland. How can I work as a nurse in France?",  # a question
    "I teach at the lycée in Caen. My daughter (12) wants to meet a vet.",  # not a pupil
    "I'm a retired nurse and I would like to meet a florist.",  # not employed
    "I'm a self-employed plumber and I'd like to meet an electrician.",
]


@pytest.mark.parametrize("body", NO_SITUATIONS)
def test_wishes_and_others_are_no_situation(
    body: str, ref: Referential, rules: UnderstandingRules
) -> None:
    parsed = read(f"Hello,\n{body}\nThanks", ref, rules)
    assert parsed.situation is None, parsed.notes


# --- places -----------------------------------------------------------------------------------

PLACES = [
    ("My son would like to meet a baker near Caen.", "Caen"),
    ("We live in Bayeux. My daughter wants to meet a vet.", "Bayeux"),
    ("Is there a plumber around Avranches?", "Avranches"),
    ("I'm based in Saint-Lô and want to meet a florist.", "Saint-Lô"),
    ("We are close to Lisieux; she wants to meet a vet.", "Lisieux"),
    ("I just moved to Vire and would like to meet a baker.", "Vire Normandie"),
    ("My son goes to school in Cherbourg and wants to meet a sailor.", "Cherbourg-en-Cotentin"),
]


@pytest.mark.parametrize(("body", "commune"), PLACES)
def test_places(body: str, commune: str, ref: Referential, rules: UnderstandingRules) -> None:
    parsed = read(f"Hello,\n{body}\nThanks", ref, rules)
    assert parsed.place is not None and parsed.place.commune == commune, parsed.notes


def test_english_region_names(ref: Referential, rules: UnderstandingRules) -> None:
    parsed = read("Hello, we live in Normandy and my son wants to meet a baker.", ref, rules)
    assert parsed.place is not None and parsed.place.region == "28" and not parsed.place.commune
    parsed = read("Hi, I'm in Brittany and I'd like to meet a florist.", ref, rules)
    assert parsed.place is not None and parsed.place.region == "53"


@pytest.mark.parametrize(
    "body",
    [
        "We are moving in May and my son would like to meet a plumber.",
        "Could he meet a baker in March or April? He is free on Monday.",
        "My daughter speaks English and French and wants to meet a vet.",
    ],
)
def test_months_days_and_languages_are_no_place(
    body: str, ref: Referential, rules: UnderstandingRules
) -> None:
    parsed = read(f"Hello,\n{body}\nThanks", ref, rules)
    assert parsed.place is None, parsed.notes


@pytest.mark.parametrize(
    "body",
    [
        "I'm British but I live in France now and would like to meet a baker.",
        "We moved from Manchester last year. My son wants to meet a plumber.",
        "My son is in 3e and would like to meet a baker.",
    ],
)
def test_countries_and_classes_are_no_commune(
    body: str, ref: Referential, rules: UnderstandingRules
) -> None:
    parsed = read(f"Hello,\n{body}\nThanks", ref, rules)
    assert parsed.place is None or parsed.place.commune is None, parsed.notes


# --- families of trades, for someone who does not know yet ------------------------------------


@pytest.mark.parametrize(
    ("body", "domain"),
    [
        ("Hello, my son likes computers but has no idea which job.", "informatique"),
        ("Hi, my daughter loves animals and horses. What could she do?", "animaux"),
        ("Hello, he is into cars and engines, any idea?", "mecanique"),
    ],
)
def test_english_families_of_trades(
    body: str, domain: str, ref: Referential, rules: UnderstandingRules
) -> None:
    parsed = read(body, ref, rules)
    assert parsed.trade is None and parsed.domain == domain, parsed.notes


def test_a_pronoun_is_no_family(ref: Referential, rules: UnderstandingRules) -> None:
    parsed = read("Hi, how does it work? Is it free? Thanks", ref, rules)
    assert parsed.domain is None, parsed.notes


def test_the_families_have_english_labels_for_english_mails(rules: UnderstandingRules) -> None:
    english = rules.english
    assert english is not None
    assert [d.name for d in english.domains] == [d.name for d in rules.domains]  # merged
    said = english.domain("informatique")
    assert said is not None and said.label.startswith("computers")
    french = rules.domain("informatique")
    assert french is not None and french.label.startswith("l'informatique")
    assert "computers" not in french.phrases  # French mails read French words only


# --- first names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("closing", "name"),
    [
        ("Thanks,\nTom", "Tom"),
        ("Kind regards,\nSarah Jones", "Sarah"),
        ("Best,\nDaniel Foster", "Daniel"),
        ("Many thanks, Rachel", "Rachel"),
    ],
)
def test_first_names_from_english_closings(
    closing: str, name: str, ref: Referential, rules: UnderstandingRules
) -> None:
    body = f"Hello,\nMy son would like to meet a baker near Caen.\n{closing}"
    assert read(body, ref, rules).first_name == name


# --- the English help mail's form -------------------------------------------------------------

TEMPLATES = RULES.parent / "templates" / "mails"


def english_help() -> str:
    from mailflow.services.compose import render

    relay = type("Relay", (), {"display_name": "Ambassadeurs", "address": "relay@x.test"})()
    return render(TEMPLATES, "help", {"first_name": "Emma", "relay": relay}, "en").text


def test_every_key_of_the_english_help_form_is_known(rules: UnderstandingRules) -> None:
    english = rules.english
    assert english is not None
    lines = help_form_lines(english_help(), english)
    assert len(lines) == 6
    assert [key for _, key, field in lines if field is None] == []


@pytest.mark.parametrize(
    ("answers", "code", "kind"),
    [
        ({"kind": "trade", "trade_or_training": "electrician", "place": "Caen"}, "F1602", "metier"),
        (
            {"kind": "training", "trade_or_training": "CAP coiffure", "place": "Lisieux"},
            "D1202",
            "formation",
        ),
        ({"trade_or_training": "vet nurse", "place": "Avranches", "age": "13"}, "A1501", "metier"),
    ],
)
def test_the_english_help_form_filled_in_is_read(
    answers: dict[str, str],
    code: str,
    kind: str,
    ref: Referential,
    rules: UnderstandingRules,
) -> None:
    english = rules.english
    assert english is not None
    body = f"{fill(english_help(), english, answers)}\n\n{quoted(english_help())}"
    parsed = read(body, ref, rules)
    assert parsed.lang == "en"
    assert parsed.trade is not None and parsed.trade.code_rome == code, parsed.notes
    assert parsed.kind == kind, parsed.notes
    assert parsed.place is not None and parsed.place.commune == answers["place"]


# --- which template a person gets -----------------------------------------------------------


def test_the_english_template_when_there_is_one_else_the_french() -> None:
    from mailflow.services.compose import localised, person_lang

    assert localised(TEMPLATES, "ack", "en") == "ack.en"
    assert localised(TEMPLATES, "ack", "fr") == "ack"
    assert localised(TEMPLATES, "ack", None) == "ack"
    assert localised(TEMPLATES, "intro", "en") == "intro"  # the ambassador's: French only
    assert localised(TEMPLATES, "ack", "de") == "ack"  # no such language: French
    request = type("R", (), {"lang": "en"})()
    assert person_lang(request, "person") == "en"
    assert person_lang(request, "ambassador") is None
    assert person_lang(request, "coordinator") is None
    assert person_lang(None, "person") is None


def test_every_english_mail_has_its_french_one() -> None:
    english = sorted(TEMPLATES.glob("*.en.txt"))
    assert len(english) >= 10
    for path in english:
        assert (TEMPLATES / path.name.replace(".en.txt", ".txt")).exists(), path.name


def test_the_ambassador_is_told_the_person_writes_in_english() -> None:
    from mailflow.services.compose import render

    relay = type("Relay", (), {"display_name": "Ambassadeurs", "address": "relay@x.test"})()
    request = {
        "kind": "metier",
        "trade_label": "Boulanger",
        "place": "Caen (14)",
        "age_band": None,
        "situation": None,
        "who": "Emma",
        "who_short": "Emma",
        "message": "Hi, I would like to meet a baker.",
    }
    data = {"request": request, "ambassador": {"first_name": "Marie"}, "relay": relay}
    told = render(TEMPLATES, "intro", {**data, "request": {**request, "lang": "en"}}, "en")
    assert "Emma écrit en anglais" in told.text and told.subject.startswith("Une demande")
    french = render(TEMPLATES, "intro", {**data, "request": {**request, "lang": "fr"}})
    assert "anglais" not in french.text
