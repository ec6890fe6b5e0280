"""What may be shown as a person's first name: a name, or nothing.

The first name comes from what the person wrote (a form line "Prénom : ...", a signature,
the display name of their mail), and it is shown to the ambassador in the introduction, in
its From display name and in that of every relayed mail. Whatever it was read from, it is
a name (letters, hyphens, apostrophes, spaces) of bounded length, or nothing: never an
address ("Prénom : dave@evil.test"), a number, or a paragraph. The mails then use their
no-name wording ("Une personne", "Votre contact").
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 40
MAX_WORDS = 4
# Letters (any script, accents included), joined by one hyphen, apostrophe or space.
_NAME = re.compile(r"[^\W\d_]+(?:[-'’ ][^\W\d_]+)*")


def first_name_or_none(value: str | None) -> str | None:
    """`value` tidied (spaces collapsed, accents composed) if it is a name, else None.

    'Zoé', 'Jean-Baptiste', "N'Golo", 'Marie Claire' are names; 'dave@x', 'Léa2010', a
    200-character line, an empty string are not."""
    if not value:
        return None
    name = " ".join(unicodedata.normalize("NFC", value).split())
    if len(name) < 2 or len(name) > MAX_LENGTH or len(name.split(" ")) > MAX_WORDS:
        return None
    return name if _NAME.fullmatch(name) else None
