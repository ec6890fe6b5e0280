"""Places written without a place word (issue 13): a town alone in a signature or a list
("Nadia, Caen", "(Seine-Maritime)"), after "depuis" or an office ("France Travail Vire");
communes offered as alternatives ("à Caen ou Bayeux"), a place corrected after "mais", the
seat of a commune nouvelle under its old name ("Domfront"), a postcode several communes share;
and the first names, streets and asides that are no place."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.understand.mail import UnderstandingRules, understand
from mailflow.understand.referential import Referential

RULES = Path(__file__).resolve().parents[2] / "rules"


def place_of(text: str, ref: Referential, rules: UnderstandingRules) -> tuple[str | None, ...]:
    place = understand("", text, ref, rules).place
    return (place.department, place.commune) if place else (None, None)


ASK = "Bonjour, je voudrais rencontrer un boulanger."
# (text, département, commune)
# fmt: off
PLACES = [
    # a town alone, in a signature or at the end of a sentence
    (f"{ASK}\nMerci\nJulie, Bayeux", "14", "Bayeux"),
    (f"{ASK}\nCordialement,\nKevin Lemoine\nFlers", "61", "Flers"),
    (f"{ASK}\nBien à vous,\nM. Durand, Saint-Lô", "50", "Saint-Lô"),
    (f"{ASK} J'ai 15 ans, Lisieux.", "14", "Lisieux"),
    (f"{ASK} Vernon. Merci !", "27", "Vernon"),
    (f"{ASK} Vous pouvez m'aider ? Fécamp", "76", "Fécamp"),
    ("jveux etre boulanger, 14 ans, lisieux", "14", "Lisieux"),  # all in lower case
    (f"{ASK}\nLéo (Le Havre)", "76", "Le Havre"),
    (f"{ASK}\nEmma - Saint-Lô", "50", "Saint-Lô"),
    (f"{ASK}\nThomas\nNantes", "44", "Nantes"),  # a big town outside the home région
    # a département alone
    (f"{ASK} Je travaille sur les marchés (Calvados).", "14", None),
    (f"{ASK}\nPaul, Seine-Maritime", "76", None),
    # a place word counts more than a town alone
    (f"{ASK} J'habite à Caen.\nLéa, Bayeux", "14", "Caen"),
    # "depuis", an office or a club named with its town
    (f"{ASK} Je fais des photos depuis Granville.", "50", "Granville"),
    (f"{ASK} Mon conseiller France Travail Vire m'a parlé de vous.", "14", "Vire Normandie"),
    (f"{ASK} Je suis suivie par la Mission Locale Lisieux.", "14", "Lisieux"),
    (f"{ASK} Je joue au SM Caen.", "14", "Caen"),
    # a firm and its site after "chez"
    ("je voudrais faire mon alternance chez Safran Colombelles", "14", "Colombelles"),
    ("un stage chez Leclerc Bayeux", "14", "Bayeux"),
    ("apprenti chez Renault Sandouville", "76", "Sandouville"),
    # a place word glued to a name is part of it
    (f"{ASK} Je travaille au multi-accueil de Mortagne-au-Perche.", "61", "Mortagne-au-Perche"),
    ("je suis de Torigni-sur-Vire, je cherche un boulanger", "50", "Torigny-les-Villes"),
    ("j'habite à Bagnoles-de-l'Orne", "61", "Bagnoles de l'Orne Normandie"),
    # the seat of a commune nouvelle under its former name, not a namesake elsewhere
    ("j'habite à Domfront et je cherche un boulanger", "61", "Domfront en Poiraie"),
    ("boulanger à Torigni-sur-Vire", "50", "Torigny-les-Villes"),
    # "dans" + the article of a commune's name
    ("j'habite dans les Andelys", "27", "Les Andelys"),
    ("on vit dans le Havre", "76", "Le Havre"),
    # communes offered as alternatives: their département, no one commune
    ("je cherche un boulanger à Caen ou Bayeux", "14", None),
    ("un boulanger à Caen ou à Bayeux", "14", None),
    ("secteur Évreux / Vernon", "27", None),
    ("au lycée de Flers ou d'Argentan", "61", None),
    ("je suis à Lille, un stage à Lille ou Roubaix", "59", None),
    ("un boulanger à Caen ou ailleurs", "14", "Caen"),  # "ailleurs" is no town
    ("j'habite à Caen et je cherche un boulanger", "14", "Caen"),
    # a place after "mais" corrects the one before
    ("je suis étudiant à Rennes mais je rentre à Bayeux le week-end", "14", "Bayeux"),
    ("elle voudrait étudier à Paris, mais nous habitons à Évreux", "27", "Évreux"),
    ("j'habite à Caen mais je ne sais pas quel métier choisir", "14", "Caen"),
    ("J'habite à Caen, mais je ne sais pas quoi faire.\nMerci\nJulie, Bayeux", "14", "Caen"),
    # a birthplace is not where to meet when another place is named
    ("j'habite à Caen mais je suis née à Paris", "14", "Caen"),
    # a vaguer place after "mais" corrects nothing: the town stays
    ("J'habite à Rennes mais je viens souvent en Normandie voir ma famille", "35", "Rennes"),
    ("j'habite à Vire mais je peux me déplacer dans le Calvados", "14", "Vire Normandie"),
    ("originaire de Lisieux, j'habite à Caen depuis deux ans", "14", "Caen"),
    ("Née au Havre, je vis à Fécamp", "76", "Fécamp"),
    ("je suis originaire de Lisieux", "14", "Lisieux"),  # alone, it still says where
    ("Je suis dans l'Orne, à La Ferté-Macé.", "61", "La Ferté Macé"),  # "orne a" is no "né à"
    # where the person lives says more than another town after a place word
    ("Ma tante travaille à Paris. J'habite à Cherbourg.", "50", "Cherbourg-en-Cotentin"),
    ("mon père bosse sur Rouen, nous habitons à Yvetot", "76", "Yvetot"),
    ("bonjour je suis de la manche et je cherche un stage", "50", None),
    ("jhabite dans la manche", "50", None),
    ("on vit dans le lot", "46", None),
    ("jhabite au mans", "72", "Le Mans"),  # a city in lower case
    ("jhabite aux andelys", "27", "Les Andelys"),  # a town of the home région
    ("je suis a la rochelle", "17", "La Rochelle"),
    # a street after a place word is an address
    ("j'habite rue de Paris à Lisieux", "14", "Lisieux"),
    ("j'habite route de Caen à Bayeux", "14", "Bayeux"),
    ("j'habite place Saint-Sauveur à Caen", "14", "Caen"),
    # short names in everyday use (place_names.toml [names])
    ("jsuis au lycée a conches", "27", "Conches-en-Ouche"),
    ("mon oncle est pêcheur à Port-en-Bessin", "14", "Port-en-Bessin-Huppain"),
    ("j'habite à Sotteville", "76", "Sotteville-lès-Rouen"),
    ("un ostréiculteur vers Saint-Vaast", "50", "Saint-Vaast-la-Hougue"),
    ("j'habite à Pacy et je cherche un boulanger", "27", "Pacy-sur-Eure"),
    ("on habite à Trouville", "14", "Trouville-sur-Mer"),
    ("je suis de Tessy-sur-Vire", "50", "Tessy-Bocage"),  # a seat the data lists not
    ("j'habite à Rémalard", "61", "Rémalard en Perche"),
    ("j'habite à Blainville", "14", "Blainville-sur-Orne"),
    # more place words
    ("voler au-dessus de la Suisse normande", "14", None),
    ("pêcher au large de Granville", "50", "Granville"),
    ("habitant Vire, je cherche un boulanger", "14", "Vire Normandie"),
    ("j'habite aux Andelys", "27", "Les Andelys"),
    ("j'habite au Tréport", "76", "Le Tréport"),
    ("j'habite au Perche", "61", None),  # the pays, not La Perche (18)
    ("un stage entre Rouen et Elbeuf", "76", None),
    # a product named after its town is the town after a place word or ending a line
    ("j'habite à Livarot", "14", "Livarot-Pays-d'Auge"),
    ("j'habite à Vieux", "14", "Vieux"),  # after a place word, in capitals: the village
    (f"{ASK}\nJulie, Eu", "76", "Eu"),  # alone, a town of that name
    (f"{ASK}\nMerci\nJulie, Pont-l'Évêque", "14", "Pont-l'Évêque"),
    # an initial or "M." before a name is no end of sentence
    (f"{ASK}\nCordialement,\nJ. Mathieu, Bayeux", "14", "Bayeux"),
    # the signature block, when the mail itself names no place
    (f"{ASK}\n-- \nJean Dupont\n12 rue des Lilas\n14000 Caen", "14", "Caen"),
    (f"{ASK}\n--\nJean Dupont, Bayeux\n06 12 34 56 78", "14", "Bayeux"),
    (f"{ASK}\n--\nMathieu\nFlers", "61", "Flers"),
    ("je voudrais devenir boulanger à Vire.\n--\nJean Dupont, Bayeux", "14", "Vire Normandie"),
    # a département after a commune's place word and its article
    ("j'habite la Manche", "50", None),
    ("jhabite l'Orne", "61", None),
    ("je travaille sur le Calvados", "14", None),
    ("je suis sur le 14", "14", None),
    ("je viens de l'Orne", "61", None),
    # a town's demonym after an area word (place_names.toml [demonyms])
    ("j'habite dans l'agglomération caennaise", "14", "Caen"),
    ("je cherche un stage dans la région rouennaise", "76", "Rouen"),
    ("je suis cherbourgeoise et je voudrais devenir infirmière", "50", "Cherbourg-en-Cotentin"),
    ("on vit dans l'agglo havraise", "76", "Le Havre"),
    ("je vis dans la région saint-loise", "50", "Saint-Lô"),
    # ... weaker than a commune after a place word
    ("je suis suivie par le PLIE de l'agglomération caennaise, je travaille à Colombelles",
     "14", "Colombelles"),
    # a postcode several communes share: its département only
    ("j'habite 14100", "14", None),
    ("jhabite 50000 et je cherche un boulanger", "50", None),
    ("j'habite 14000", "14", "Caen"),
    ("j'habite 14100 Lisieux", "14", "Lisieux"),
]

NOT_PLACES = [
    f"{ASK}\nMerci,\nMathieu",  # Mathieu (14) is a first name after a closing
    f"{ASK}\nCordialement\nLison",  # Lison (14)
    f"Lison, 13 ans. {ASK}",  # before an age
    f"Je m'appelle Lison. {ASK}\nÀ bientôt\nLison",  # the name given
    f"{ASK}\nYves",  # a village outside the home région, alone: a first name
    f"{ASK}\nAubin",
    # names in lower case in a mail with capitals
    f"{ASK} J'aime les fromages (camembert, livarot, pont-l'évêque).",
    f"{ASK} Je le fais depuis longtemps.",
    f"{ASK} Je le fais depuis 3 ans.",
    f"{ASK} Il travaille dans la manche de sa veste.",
    f"{ASK}\nHavre",  # "Havre" alone is no Le Havre
    "je suis au dessus de la moyenne en maths",
    "je voudrais voler au dessus des nuages",
    "je voudrais faire de la cuisine normande",
    "je voudrais travailler dans une entreprise caennaise",  # no area word before it
    "je suis en stage aux urgences",
    f"{ASK}\nCordialement,\nM. Mathieu",
    f"{ASK}\nMme. Lison",
    "je fais mon stage chez Monsieur Lison",  # a person after "chez"
    "je voudrais un stage chez Airbus",
    "je suis sur le 14 mars dispo",
    "Thanks a lot\nJonathan",  # no Lot (46)
    "je travaille à la crèche depuis 10 ans",  # no La Crèche (79)
    "je travaille au port",  # no Le Port (974)
    "je préfère travailler à la montagne",  # no La Montagne (44)
    "je suis serveuse, je travaille à la terrasse",
    "il faut qu'il vienne a la maison",
    "j'habite la maison de mes parents",
    "je suis sur la liste d'attente",
    f"{ASK}\n--\nMathieu",  # a signature starts with the name
    f"{ASK} Mes loisirs : Aviron, natation.",  # villages named like everyday words
    f"{ASK} Vieux, mais motivé !",
    f"{ASK}\nJulie, Toussaint 2026",
    f"{ASK}\n--\nLison Martin\n06 12 34 56 78",
    "Je voudrais devenir fromager (Camembert, Livarot, Pont-l'Évêque).",
    "je voudrais fabriquer du Pont-l'Évêque",
    "un fromager qui fait du Livarot",
    "je voudrais un stage de l'autre côté de la Manche",
]
# fmt: on


@pytest.mark.parametrize(("text", "dept", "commune"), PLACES)
def test_place_as_written(ref, rules, text, dept, commune):
    assert place_of(text, ref, rules) == (dept, commune)


@pytest.mark.parametrize("text", NOT_PLACES)
def test_no_place(ref, rules, text):
    assert place_of(text, ref, rules) == (None, None)


def test_a_subject_naming_the_trade_is_no_town(ref, rules):
    parsed = understand("Boulanger", "je voudrais rencontrer un boulanger. Merci", ref, rules)
    assert parsed.trade is not None and parsed.place is None


def test_the_notes_say_why(ref, rules):
    notes = understand("", f"{ASK}\nJulie, Bayeux", ref, rules).notes
    assert "place: 'Bayeux' alone -> commune Bayeux (14)" in notes
    notes = understand("", "un boulanger à Caen ou Bayeux", ref, rules).notes
    assert any("alternatives" in n for n in notes)
