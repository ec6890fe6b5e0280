"""The place of a request as people really write it (issue 13): "un boulanger de Lisieux",
"le lycée Malherbe de Caen", "dans le Pays d'Auge", "à côté de L'Aigle", former communes, and
the numbers that are no place ("ma fille (13)", "le 14 mars", "j'ai 14 ans")."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.understand.mail import UnderstandingRules, understand
from mailflow.understand.referential import Referential

RULES = Path(__file__).resolve().parents[2] / "rules"


def place_of(text: str, ref: Referential, rules: UnderstandingRules) -> tuple[str | None, ...]:
    place = understand("", text, ref, rules).place
    return (place.department, place.commune) if place else (None, None)


# (text, département, commune)
# fmt: off
COMMUNES = [
    # the town of the trade asked for, or in brackets
    ("je voudrais rencontrer un boulanger de Lisieux", "14", "Lisieux"),
    ("je voudrais rencontrer un boulanger de lisieux", "14", "Lisieux"),
    ("je voudrais rencontrer un boulanger (Lisieux)", "14", "Lisieux"),
    ("Bonjour je cherche une coiffeuse (Caen) merci", "14", "Caen"),
    # short communes, after a place word
    ("j'habite à Eu et je voudrais rencontrer un boulanger", "76", "Eu"),
    ("jhabite a eu et je voudrais devenir boulanger", "76", "Eu"),
    ("J'habite a Eu", "76", "Eu"),
    ("j'habite à L'Aigle et je voudrais devenir fleuriste", "61", "L'Aigle"),
    ("jhabite a l aigle", "61", "L'Aigle"),
    ("j'habite à Sées", "61", "Sées"),
    ("jhabite a sees", "61", "Sées"),
    ("je suis à Ifs", "14", "Ifs"),
    ("j'habite a ifs", "14", "Ifs"),
    ("j'habite à Ver, je voudrais devenir boulanger", "50", "Ver"),
    ("j'habite à Ver-sur-Mer", "14", "Ver-sur-Mer"),
    # near a town
    ("j'habite à côté de L'Aigle", "61", "L'Aigle"),
    ("jhabite a cote de laigle", None, None),  # "laigle" in one word: no such name
    ("j'habite pres de caen", "14", "Caen"),
    ("jhabite vers bayeux", "14", "Bayeux"),
    ("pas loin de Vire, je cherche un boulanger", "14", "Vire Normandie"),
    ("pas loin de vire", "14", "Vire Normandie"),
    ("du côté de Falaise", "14", "Falaise"),
    ("du cote de falaise", "14", "Falaise"),
    ("je suis sur Caen", "14", "Caen"),
    ("je suis sur caen", "14", "Caen"),
    ("dans le coin de Bayeux", "14", "Bayeux"),
    ("ds le coin de bayeux", "14", "Bayeux"),
    ("secteur Vire, boulanger", "14", "Vire Normandie"),
    ("secteur vire", "14", "Vire Normandie"),
    # the school, the service, the workplace: its town
    ("je suis au lycée Malherbe de Caen", "14", "Caen"),
    ("je suis au lycee malherbe de caen", "14", "Caen"),
    ("je suis au collège Jean Moulin à Saint-Lô", "50", "Saint-Lô"),
    ("je suis au college jean moulin a saint lo", "50", "Saint-Lô"),
    ("je suis au CFA du Havre", "76", "Le Havre"),
    ("je suis au cfa du havre", "76", "Le Havre"),
    ("je suis à l'IUT d'Alençon", "61", "Alençon"),
    ("je suis a l iut d alencon", "61", "Alençon"),
    ("je suis à l'université de Rouen", "76", "Rouen"),
    ("je suis suivi par la Mission Locale de Lisieux", "14", "Lisieux"),
    ("suivie par la mission locale de lisieux", "14", "Lisieux"),
    # the common noun before "de <town>" is not a commune of that name
    ("je travaille à l'hôpital de Rouen", "76", "Rouen"),
    ("je travaille a l hopital de rouen", "76", "Rouen"),
    ("Je travaille à L'Hôpital de Rouen", "76", "Rouen"),
    ("je travaille à la poste de Caen", "14", "Caen"),
    ("je travaille à la mairie de Bayeux", "14", "Bayeux"),
    # where the person is wins over the town of a trade
    ("je voudrais rencontrer un boulanger de Lisieux, j'habite à Caen", "14", "Caen"),
    # former names of merged communes: today's commune (communes.csv)
    ("j'habite à Thury-Harcourt", "14", "Thury-Harcourt-le-Hom"),
    ("jhabite a thury harcourt", "14", "Thury-Harcourt-le-Hom"),
    ("j'habite à Carentan", "50", "Carentan-les-Marais"),
    ("j'habite a carentan", "50", "Carentan-les-Marais"),
    ("j'habite à Vire", "14", "Vire Normandie"),
    ("j'habite à Condé-sur-Noireau", "14", "Condé-en-Normandie"),
    ("j'habite a conde sur noireau", "14", "Condé-en-Normandie"),
    ("j'habite à Villedieu-les-Poêles", "50", "Villedieu-les-Poêles-Rouffigny"),
    ("j'habite a villedieu les poeles", "50", "Villedieu-les-Poêles-Rouffigny"),
    ("j'habite à Pont-Audemer", "27", "Pont-Audemer"),
    ("j'habite à Cherbourg", "50", "Cherbourg-en-Cotentin"),
    ("j'habite a cherbourg", "50", "Cherbourg-en-Cotentin"),
    ("j'habite à Octeville", "50", "Cherbourg-en-Cotentin"),
    ("j'habite à Tourlaville", "50", "Cherbourg-en-Cotentin"),
    ("j'habite à Mortain", "50", "Mortain-Bocage"),
    ("j'habite à Saint-Hilaire-du-Harcouët", "50", "Saint-Hilaire-du-Harcouët"),
    ("j'habite a st hilaire du harcouet", "50", "Saint-Hilaire-du-Harcouët"),
    # a commune whose name holds a pays stays that commune
    ("j'habite à Mortagne-au-Perche", "61", "Mortagne-au-Perche"),
    ("j'habite à Neufchâtel-en-Bray", "76", "Neufchâtel-en-Bray"),
    ("j'habite à La Hague", "50", "La Hague"),
    # the pays of La Hague is today nearly all the commune La Hague (2017): "dans la Hague"
    ("je vis dans la Hague", "50", "La Hague"),
    # postcodes, and a département after a commune
    # a postcode several communes share names none of them (14100: Lisieux and villages)
    ("j'habite 14100", "14", None),
    ("j'habite 14000", "14", "Caen"),  # Caen alone has 14000
    ("code postal 76600", "76", "Le Havre"),
    ("cp 14100", "14", None),
    ("14100 Lisieux", "14", "Lisieux"),
    ("j'habite Bayeux (14)", "14", "Bayeux"),
    ("jhabite a vire (71)", "71", "Viré"),
    ("jhabite a lisieux", "14", "Lisieux"),
]

AREAS = [
    # pays, natural areas (place_names.toml [pays])
    ("j'habite dans le Pays d'Auge", "14"),
    ("jhabite ds le pays d auge", "14"),
    ("je vis en pays d'auge", "14"),
    ("j'habite dans le Cotentin", "50"),
    ("je suis du cotentin", "50"),
    ("j'habite dans le Bessin", "14"),
    ("j'habite dans le Bocage", "14"),
    ("j'habite dans le bocage ornais", "61"),
    ("j'habite dans le pays de Caux", "76"),
    ("dans le Perche", "61"),
    ("j'habite dans la Suisse normande", "14"),
    ("je suis dans le pays de bray", "76"),
    ("dans l'Avranchin", "50"),
    ("dans le Vexin normand", "27"),
    ("dans le pays d'Ouche", "27"),
    ("sur la Côte de Nacre", "14"),
    ("sur la cote fleurie", "14"),
    # départements by number and name
    ("dans le 14", "14"),
    ("ds le 50", "50"),
    ("j'habite dans le Calvados", "14"),
    ("j'habite dans la Manche", "50"),
    ("j'habite dans l'Orne", "61"),
    ("j'habite dans l orne", "61"),
    ("j'habite en Seine-Maritime", "76"),
    ("j'habite en seine maritime", "76"),
    ("j'habite dans l'Eure", "27"),
]

NOT_PLACES = [
    "ma fille (13) voudrait rencontrer un boulanger",
    "ma fille (13 ans) voudrait rencontrer un boulanger",
    "mon fils (14) veut devenir boulanger",
    "rendez-vous le 14 mars avec un boulanger",
    "je suis dispo le 14 mars",
    "j'ai 14 ans et je veux être boulanger",
    "jai 14 ans",
    "je suis en 3e et je veux être boulanger",
    "boulanger depuis 10 ans",
    "j'ai un bac +2",
    "j ai un bac+2 en commerce",
    "mon numéro 06 14 22 33 44",
    "appelez moi au 0614223344",
    "rdv à 14h",
    "rdv a 14 h",
    "j'habite au 14 rue des Lilas",
    "j'ai eu mon bac et je voudrais rencontrer un boulanger",
    "il a eu son bac",
    "on a eu un souci",
    "je travaille à l'hôpital",
    "je travaille a l hopital",
    "je voudrais travailler à l'hôpital en 2025",
    "la fille de Mathieu veut devenir boulangère",
    "un jus d'orange",
    "je voudrais un professeur de Français",
    "elle est en 4e (13 ans)",
]
# fmt: on


@pytest.mark.parametrize(("text", "dept", "commune"), COMMUNES)
def test_commune_as_written(ref, rules, text, dept, commune):
    assert place_of(f"Je voudrais devenir boulanger. {text}", ref, rules) == (dept, commune)
    assert place_of(text, ref, rules) == (dept, commune)


@pytest.mark.parametrize(("text", "dept"), AREAS)
def test_area_as_written(ref, rules, text, dept):
    assert place_of(f"Je voudrais devenir boulanger. {text}", ref, rules) == (dept, None)


@pytest.mark.parametrize("text", NOT_PLACES)
def test_no_place(ref, rules, text):
    assert place_of(text, ref, rules) == (None, None)


def test_region(ref, rules):
    place = understand("", "je cherche un boulanger en Normandie", ref, rules).place
    assert (place.region, place.department) == ("28", None)


def test_child_age_in_brackets(ref, rules):
    parsed = understand("", "ma fille (13) voudrait rencontrer un boulanger", ref, rules)
    assert (parsed.age, parsed.place) == (13, None)


def test_the_trade_is_still_read_beside_its_town(ref, rules):
    parsed = understand("", "je voudrais rencontrer un boulanger de Lisieux", ref, rules)
    assert (parsed.trade.code_rome, parsed.place.commune) == ("D1102", "Lisieux")
    parsed = understand("", "je suis au lycée Malherbe de Caen, je veux être fleuriste", ref, rules)
    assert (parsed.trade.code_rome, parsed.place.commune) == ("D1209", "Caen")


def test_the_note_says_which_words(ref, rules):
    notes = understand("", "j'habite dans le Pays d'Auge", ref, rules).notes
    assert "place: 'dans le Pays d'Auge' -> département 14" in notes
    notes = understand("", "un boulanger (Lisieux)", ref, rules).notes
    assert "place: '(Lisieux)' -> commune Lisieux (14)" in notes


def test_every_pays_names_a_known_department(ref):
    assert ref.places.pays
    assert all(code in ref.places.departments for code in ref.places.pays.values())
