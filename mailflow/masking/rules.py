"""What one relayed copy may show: the parties' replacements, the addresses kept, the mask.

Every part of the copy (headers, bodies, forwarded messages) is scrubbed by the same rules;
they are built once per copy and handed down, so no module decides on its own what stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mailflow.core.textnorm import fold
from mailflow.masking.scrub import Others, Secret, scrub_html, scrub_text


@dataclass(frozen=True)
class Rules:
    """The secrets to replace and the other addresses to mask, for one relayed copy."""

    secrets: tuple[Secret, ...]
    others: Others

    @classmethod
    def of(cls, secrets: Iterable[Secret], keep_addresses: Iterable[str]) -> Rules:
        """Each secret's replacement stays, and so do `keep_addresses` (the relay's own)."""
        secrets = tuple(secrets)
        keep = [s.replacement for s in secrets]
        keep.extend(keep_addresses)
        return cls(secrets, Others.keeping(keep))

    def text(self, text: str) -> str:
        return scrub_text(text, self.secrets, self.others)

    def html(self, source: str) -> str:
        return scrub_html(source, self.secrets, self.others)

    def replacement(self, address: str) -> str | None:
        """What a party's address becomes, the address itself if it may stay, else None."""
        wanted = address.strip().lower()
        for secret in self.secrets:
            if secret.address.strip().lower() == wanted:
                return secret.replacement
        return address.strip() if fold(wanted) in self.others.keep else None
