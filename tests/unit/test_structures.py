"""Which partner structure a request came from, through, or named (core/structures.py):
pure, on the shipped rules/structures.toml (its example list) and on hand-made lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.core.structures import (
    Attribution,
    StructureRules,
    adviser_to_tell,
    attribute,
    by_address,
    load_structure_rules,
    structure,
)
from mailflow.errors import RulesError

RULES = load_structure_rules(PROJECT_ROOT / "rules")
LISTED = RULES.structures
LEA = "lea.martin@users.test"


def attributed(text: str = "", sender: str = LEA, copied: tuple[str, ...] = ()) -> Attribution:
    return attribute(sender, copied, text, RULES, LISTED)


def test_the_shipped_list_is_marked_as_example_data_under_test_domains() -> None:
    assert RULES.example and len(LISTED) >= 5
    assert {s.kind for s in LISTED} >= {"cio", "mission_locale", "etablissement"}
    assert all(d.endswith(".test") for s in LISTED for d in s.domains)
    assert RULES.notify_default is False  # nobody told unless a structure says so


def test_an_adviser_writing_from_the_structures_domain_is_from() -> None:
    found = attributed("Bonjour, j'accompagne un jeune de 17 ans.", "Anne.Dupont@ML-Caen.test")
    assert found == Attribution("ml-caen", "mission_locale", "from", "anne.dupont@ml-caen.test")


def test_a_subdomain_counts_but_a_domain_merely_containing_it_does_not() -> None:
    assert attributed(sender="anne@antenne.ml-caen.test").key == "ml-caen"
    assert attributed(sender="anne@notml-caen.test") is None
    assert attributed(sender="anne@ml-caen.test.example.com") is None
    assert attributed(sender="ml-caen.test@users.test") is None


def test_an_exact_address_counts_and_not_its_neighbours() -> None:
    assert attributed(sender="ACCUEIL@cfa-btp-coutances.example.test").key == "cfa-btp-coutances"
    assert attributed(sender="direction@cfa-btp-coutances.example.test") is None


def test_an_adviser_in_copy_is_through_with_their_address() -> None:
    found = attributed("Bonjour, je voudrais devenir boulanger.", copied=("c.leroy@ml-caen.test",))
    assert found == Attribution("ml-caen", "mission_locale", "through", "c.leroy@ml-caen.test")


def test_from_beats_through_beats_text() -> None:
    text = "Mon conseiller du CIO de Lisieux m'a parlé de vous."
    both = attributed(text, "x@ml-bessin.test", ("y@ml-caen.test",))
    assert (both.key, both.via) == ("ml-bayeux", "from")
    through = attributed(text, copied=("y@ml-caen.test",))
    assert (through.key, through.via) == ("ml-caen", "through")
    assert (attributed(text).key, attributed(text).via) == ("cio-lisieux", "text")


@pytest.mark.parametrize(
    "text, key",
    [
        ("ma conseillère de la Mission Locale de Caen m'a dit de vous écrire", "ml-caen"),
        ("MA CONSEILLERE DE LA MISSION LOCALE DE CAEN M'A DIT DE VOUS ECRIRE", "ml-caen"),
        ("slt jsuis suivi a la ml caen jvoudrai etre mecano", "ml-caen"),
        ("Je suis en seconde au lycée Malherbe, je veux être infirmière.", "lycee-malherbe"),
        ("Le Centre d'Information et d'Orientation de Lisieux m'a donné l'adresse", "cio-lisieux"),
        ("inscrit chez pole emploi saint-sever depuis mars", "ft-rouen"),
    ],
)
def test_a_known_structure_named_in_the_text(text: str, key: str) -> None:
    found = attributed(text)
    assert (found.key, found.via, found.adviser) == (key, "text", None)


@pytest.mark.parametrize(
    "text, kind",
    [
        ("Bonjour, ma conseillère Mission Locale m'a conseillé de vous écrire.", "mission_locale"),
        ("mon conseiller France Travail dit que la VAE c'est possible", "france_travail"),
        ("Mon conseiller pôle emploi m'a parlé de votre réseau", "france_travail"),
        ("la psychologue du CIO m'a donné votre adresse", "cio"),
        ("Ma référente de l'association m'aide pour mon projet", "association"),
    ],
)
def test_a_generic_mention_counts_the_kind_alone(text: str, kind: str) -> None:
    assert attributed(text) == Attribution(None, kind, "text")


@pytest.mark.parametrize(
    "text",
    [
        "Je suis inscrit à France Travail depuis six mois et je voudrais faire une VAE.",
        "Je suis au lycée en première, je voudrais rencontrer un boulanger.",
        "Bonjour, j'aimerais devenir conseiller bancaire à Caen.",
        "Ma mission : trouver un stage. Locale ou pas, peu importe.",
        "Je voudrais être conseillère en insertion, pas forcément dans une mission locale.",
    ],
)
def test_a_kind_without_an_adviser_word_close_by_counts_for_nothing(text: str) -> None:
    assert attributed(text) is None


def test_the_longest_name_wins() -> None:
    listed = (
        structure("ml", "Mission Locale", "mission_locale", aliases=("ML",)),
        structure("ml-caen", "Mission Locale de Caen", "mission_locale"),
    )
    found = attribute(LEA, (), "la Mission Locale de Caen", RULES, listed)
    assert found.key == "ml-caen"


def test_the_most_specific_domain_wins() -> None:
    listed = (
        structure("region", "Région", "autre", domains=("normandie.test",)),
        structure("cio", "CIO", "cio", domains=("cio.normandie.test",)),
    )
    assert by_address("a@cio.normandie.test", listed).key == "cio"
    assert by_address("a@x.normandie.test", listed).key == "region"


def test_who_is_told() -> None:
    assert adviser_to_tell("ml-caen", "c@ml-caen.test", LEA, RULES, LISTED) == "c@ml-caen.test"
    # the adviser wrote the request: the answer reaches them already
    assert adviser_to_tell("ml-caen", "c@ml-caen.test", "C@ml-caen.test", RULES, LISTED) is None
    # no notify of its own: the default (false as shipped); then the default at true
    assert adviser_to_tell("ft-rouen", "c@ft-rouen.example.test", LEA, RULES, LISTED) is None
    told = StructureRules(notify_default=True, structures=LISTED)
    assert adviser_to_tell("ft-rouen", "c@x.test", LEA, told, LISTED) == "c@x.test"
    assert adviser_to_tell(None, None, LEA, told, LISTED) is None  # a kind alone
    assert adviser_to_tell("gone", "c@x.test", LEA, told, LISTED) is None  # not listed now


@pytest.mark.parametrize(
    "entry, said",
    [
        ('key = "Bad Key"\nname = "X"\nkind = "cio"\ndomains = ["x.test"]', "Bad Key"),
        ('key = "x"\nname = "X"\nkind = "lycee"\ndomains = ["x.test"]', "kind of x"),
        ('key = "x"\nname = "X"\nkind = "cio"\ndomains = ["pas un domaine"]', "domains of x"),
        ('key = "x"\nkind = "cio"\ndomains = ["x.test"]', "structure x: the key 'structure.name'"),
        ('key = "x"\nname = "X"\nkind = "cio"\ndomains = ["x.test"]\nnotify = "oui"', "notify"),
    ],
)
def test_a_wrong_structure_is_named_by_file_and_key(tmp_path: Path, entry: str, said: str) -> None:
    (tmp_path / "structures.toml").write_text(f"[[structure]]\n{entry}\n", encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_structure_rules(tmp_path)
    assert str(caught.value).startswith(str(tmp_path / "structures.toml"))
    assert said in str(caught.value)


def test_two_structures_sharing_a_domain_are_refused(tmp_path: Path) -> None:
    one = '[[structure]]\nkey = "{}"\nname = "X"\nkind = "cio"\ndomains = ["x.test"]\n'
    (tmp_path / "structures.toml").write_text(one.format("a") + one.format("b"), encoding="utf-8")
    with pytest.raises(RulesError, match="domain 'x.test' is given for both a and b"):
        load_structure_rules(tmp_path)


def test_no_file_means_no_structures(tmp_path: Path) -> None:
    rules = load_structure_rules(tmp_path)
    assert rules.structures == () and not rules.notify_default
    assert attribute(LEA, ("c@ml-caen.test",), "ma conseillère Mission Locale", rules, ()) is None
