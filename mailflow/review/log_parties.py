"""Who wrote to whom in the log, named by role and first name, never by address.

"Marie L." for an ambassador, the first name alone for a person, the bare role for anyone
else: coordinators read who spoke without the log ever showing an address. Apart from the
timelines because it is the one place that looks names up, each once per timeline.
"""

from __future__ import annotations

from peewee import fn

from mailflow.store.models import Ambassador, Conversation, Person, Request


def ambassador_name(a: Ambassador | None) -> str | None:
    """First name and last initial: "Marie L."."""
    if a is None:
        return None
    initial = (a.last_name or "").strip()[:1]
    return f"{a.first_name} {initial.upper()}." if initial else a.first_name


def party(role: str | None, name: str | None = None) -> dict[str, str | None]:
    """A party as every entry shows it: its role always, a first name when one is known."""
    return {"role": role or "unknown", "name": name}


class Names:
    """The first names of one timeline's parties, each looked up once."""

    def __init__(self, request: Request | None = None) -> None:
        self.person: str | None = None
        self.conversations: dict[int, Conversation] = {}
        if request is not None:
            self.person = request.first_name or request.person.first_name
            query = Conversation.select(Conversation, Ambassador).join(Ambassador)
            self.conversations = {c.id: c for c in query.where(Conversation.request == request)}
        self._by_email: dict[str, str | None] = {}

    def ambassador(self, conversation_id: int | None, email: str | None) -> str | None:
        conv = self.conversations.get(conversation_id) if conversation_id else None
        if conv is not None:
            return ambassador_name(conv.ambassador)
        key = (email or "").strip().lower()
        if key and key not in self._by_email:
            found = Ambassador.get_or_none(fn.LOWER(Ambassador.email) == key)
            self._by_email[key] = ambassador_name(found)
        return self._by_email.get(key)

    def of(
        self, role: str | None, conversation_id: int | None, email: str | None
    ) -> dict[str, str | None]:
        """The party of `role`, named when it is a person or an ambassador."""
        if role == "person":
            name = self.person
            if name is None and email:
                found = Person.get_or_none(fn.LOWER(Person.email) == email.strip().lower())
                name = found.first_name if found else None
            return party(role, name)
        if role == "ambassador":
            return party(role, self.ambassador(conversation_id, email))
        return party(role)
