"""Which ambassadors could match a request: an in-memory index of the directory's trades.

`route.trade_tier` accepts an ambassador of the same ROME code, with every asked word in
their title, or (second tier) of the same ROME domain. Finding them in SQL meant a scan of
the 10,000 titles (`LIKE '%word%'`) per request; this index maps each code, domain and
title word to the ambassadors' ids, so that only those ids are read from the database.

It holds nothing that changes often: no availability, capacity, load or place. Those, and
the code and title themselves, are read from the database at decision time
(`intake.candidates`) and `route.choose` decides on them: the index only narrows the ids.

Invalidation, safe with several daemons on one database: the index remembers the database
and the directory's version (the id of the last "import" event, the highest ambassador id),
read with one query of two index lookups before each use. Titles and codes are only
written by the import (`directory.import_rows`), which logs its "import" event in the same
transaction; an ambassador created any other way raises the highest id. A changed version
rebuilds the index (one read of id, code and title of every ambassador: 10,000 in 0.05 to
0.15 s on the bench machine). A stale index could only hide an ambassador, never choose a
wrong one, since the code and title `choose` compares are read again from the database.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from peewee import Database

from mailflow.core.route import Want
from mailflow.core.textnorm import words
from mailflow.store.models import Ambassador, Event, database

Version = tuple[int | None, int | None]


@dataclass
class TradeIds:
    """Ambassador ids by ROME code, by domain (first 3 characters) and by title word."""

    version: Version
    db: Database
    by_code: defaultdict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    by_domain: defaultdict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    by_word: defaultdict[str, set[int]] = field(default_factory=lambda: defaultdict(set))

    def add(self, ident: int, code_rome: str | None, title_words: str | None) -> None:
        if code_rome:
            self.by_code[code_rome].add(ident)
            self.by_domain[code_rome[:3]].add(ident)
        for word in (title_words or "").split():
            self.by_word[word].add(ident)

    def matching(self, want: Want, domain: bool) -> set[int] | None:
        """Ids of the ambassadors `route.trade_tier` accepts on the same trade (with
        `domain`, on the same ROME domain too), as of the index. None: nothing can match
        (no code and no meaningful word asked)."""
        found: set[int] | None = None
        if want.code_rome:
            found = set(self.by_code.get(want.code_rome, ()))
            if domain:
                found |= self.by_domain.get(want.code_rome[:3], set())
        wanted = {w for w in words(want.title_words or "").split() if len(w) > 2}
        if wanted:  # route.same_title: every asked word is a word of the title
            sets = [self.by_word.get(w, set()) for w in wanted]
            titled = set.intersection(*sets) if all(sets) else set()
            found = titled if found is None else found | titled
        return found


_index: TradeIds | None = None


def directory_version() -> Version:
    """Changes whenever an ambassador's code or title may have changed (see above)."""
    db = database.obj
    sql = (
        f'SELECT (SELECT MAX(id) FROM "{Event._meta.table_name}" WHERE kind = {db.param}), '
        f'(SELECT MAX(id) FROM "{Ambassador._meta.table_name}")'
    )  # written out: two index lookups, cheaper than building the query each time
    imported, top = db.execute_sql(sql, ("import",)).fetchone()
    return (imported, top)


def trade_ids() -> TradeIds:
    """The index, rebuilt when the directory changed since it was built."""
    global _index
    version = directory_version()
    db = database.obj  # another database (tests, tools) is another directory
    if _index is None or _index.version != version or _index.db is not db:
        index = TradeIds(version, db)
        columns = (Ambassador.id, Ambassador.code_rome, Ambassador.title_words)
        for ident, code, title in Ambassador.select(*columns).tuples():
            index.add(ident, code, title)
        _index = index
    return _index
