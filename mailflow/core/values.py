"""Frozen values passed between pipeline stages (no I/O, no database)."""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("metier", "formation", "vae")
SITUATIONS = (
    "collegien",
    "lyceen",
    "apprenti",
    "etudiant",
    "demandeur_emploi",
    "salarie",
    "parent",
    "autre",
)

# Who wrote, when an adult writes for a young person (request.writer_role; None: the person
# writes for themselves). Stored strings: extend, never rename.
WRITER_ROLES = (
    "parent",
    "enseignant",
    "conseiller_orientation",
    "cpe",
    "conseiller_insertion",
    "animateur",
    "educateur",
    "autre",
)


@dataclass(frozen=True)
class Trade:
    """A ROME job sheet matched from words ("boulangère" -> D1102 Boulanger / Boulangère)."""

    code_rome: str  # "D1102"
    label: str  # the appellation that matched, e.g. "Boulanger / Boulangère"
    rome_label: str  # the job sheet's label (libelle_rome)

    @property
    def domain(self) -> str:
        """First three characters: the ROME domain (D11 = food retail trades)."""
        return self.code_rome[:3]


@dataclass(frozen=True)
class Place:
    """Where the person wants to meet; any part may be unknown."""

    department: str | None = None  # code, "14", "2A", "971"
    region: str | None = None  # INSEE region code, "28"
    commune: str | None = None  # name, "Caen"
    insee: str | None = None  # commune INSEE code, "14118"
    postcode: str | None = None  # "14000"


@dataclass(frozen=True)
class ParsedRequest:
    """What mailflow understood of a person's mail."""

    kind: str | None  # one of KINDS, or None when not said and not inferable
    trade_text: str | None  # the trade/training words as the person wrote them
    trade: Trade | None  # ROME match, None when nothing matched
    place: Place | None
    age: int | None
    situation: str | None  # one of SITUATIONS
    first_name: str | None
    message: str  # the free message (body without signature/quotes)
    diploma: str | None = None  # "CAP", "BTS", ... when the person names a training
    notes: tuple[str, ...] = field(default=())  # how each field was found, for the log
    domain: str | None = None  # a family of trades named ([[domains]]), when no trade is
    # trade_text names a trade plainly asked for that ROME lacks ("devenir youtubeur"): the
    # request is understood and routed, finds nobody, and counts as unmet demand
    trade_unlisted: bool = False
    lang: str = "fr"  # the language the mail is written in ("fr", "en"): the one answered in
    # the fields ("trade", "kind", "place", "age", "situation") read only from the earlier
    # mails a reply quotes, not from what the person writes now: they fill what a stored
    # request lacks and never replace it (inbound/details.py)
    quoted: frozenset[str] = field(default=frozenset())
    # who wrote, when an adult writes for someone else (one of WRITER_ROLES); None: the
    # person writes for themselves. The age and the situation are then the young person's.
    writer_role: str | None = None
    # the young person's own address, when the adult gives it ("il vous écrira de son
    # adresse : ..."): recorded on the request, never shown to the ambassador
    young_address: str | None = None

    @property
    def understood(self) -> bool:
        """A request is actionable once we know the trade or training asked about (a trade
        ROME lacks included)."""
        return self.trade is not None or bool(
            self.trade_text and (self.diploma or self.trade_unlisted)
        )


AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (10, 16, "10-15 ans"),
    (16, 18, "16-17 ans"),
    (18, 26, "18-25 ans"),
    (26, 50, "26-49 ans"),
    (50, None, "50 ans et plus"),
)


def age_band(age: int | None) -> str | None:
    """The programme's half-open age bands [10,16) [16,18) [18,26) [26,50) [50,+)."""
    if age is None:
        return None
    for low, high, label in AGE_BANDS:
        if age >= low and (high is None or age < high):
            return label
    return "moins de 10 ans"
