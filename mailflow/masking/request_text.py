"""The person's own words as an ambassador may read them: no address of anyone in them.

A request's text (its message, completed by a reply to the help mail, and the trade words)
is stored as the person wrote it, their own address aside, for the coordinator, who may
see it all. Every mail built from it (the introduction, its reminders, the introduction to
the next ambassador, the notices) shows it through `shown_text`, at render time: the
person's own address in any written form, and any other address at all (a parent's, a
second address of theirs, "paul point durand arobase famille point test") masked by the
same scrubbing as relayed copies (scrub.py), except the addresses given to keep (the
relay's). So a mail rendered from a request stored before this rule is masked too.
"""

from __future__ import annotations

from collections.abc import Collection

from mailflow.masking.scrub import MASK, Others, Secret, scrub_text


def shown_text(text: str, own_address: str | None = None, keep: Collection[str] = ()) -> str:
    """`text` with every address but those of `keep` replaced by the mask."""
    if not text:
        return text
    local, _, domain = (own_address or "").strip().rpartition("@")
    # The person's own address is known: masked in every form a party's is ("x chez y.fr").
    # None stored: it is masked all the same as any address.
    secrets = [Secret(address=f"{local}@{domain}", replacement=MASK)] if local and domain else []
    return scrub_text(text, secrets, Others.keeping(keep, words=True))
