"""The person's own words: quoted replies and signatures cut, "Clé : valeur" lines read, name found.

Pure functions over strings; the keywords come from UnderstandingRules.

Our own code rather than quotequail 0.5.4 or mail-parser-reply 1.36 (both measured on the
understanding corpus, 2026-12; see the commit that says so): each reads fewer of the French
shapes people send (nested "> >" originals, Outlook's separator under TR:, Apple Mail's
all-quoted forwards, our own help mails quoted), and the figures were lower.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailflow.core.textnorm import fold, words
from mailflow.understand.rules import UnderstandingRules
from mailflow.understand.tokens import tokenize

# "Clé : valeur"; the key may carry a hint in brackets, which may itself hold a colon:
# "Lieu (ville ou département) :", "Situation (ex : lycéen) :".
_FORM_LINE = re.compile(r"^\s*[-*•]?\s*((?:[^:()\n]|\([^()\n]{0,200}\)){1,240}?)\s*:\s*(.*)$")
_HINT = re.compile(r"\([^()\n]*\)")
_FROM = re.compile(r"^(?:de|from) ?: ?\S")
_SENT = re.compile(r"^(?:envoye|date|sent) ?: ?\S")
_QUOTED_FROM = re.compile(r"^>[ >]*(de|from) ?: ?\S")
_MAX_KEY = 40  # characters of a key without its hint: longer is a sentence, not a key
_MAX_SIGNED = 6  # lines of a signature below its closing, at most
_MAX_SIGNED_LINE = 80  # characters of one of its lines: longer is a sentence


@dataclass(frozen=True)
class Split:
    """A body cut into the person's words and their signature block."""

    message: str
    signature: str
    forwarded: str = ""  # the forwarded mail's own lines, when it is a forward: its "je" is
    # the young person's, not the forwarder's (person.py reads ages and situations there first)
    signatures: str = ""  # every "-- " signature block, a forwarder's too: only a weak
    # place is read there ("Collège Louis Pasteur, Mont-Saint-Aignan")
    quoted: str = ""  # the earlier mails a reply quotes, newest first, "> " marks and header
    # lines dropped: read after the new text, for what the reply does not say again
    unsigned: str = ""  # the message without the lines signing it below a closing
    # ("Cordialement,\nChristophe\nTechnicien de maintenance"): the trade is read there


@dataclass(frozen=True)
class Form:
    """The "Clé : valeur" fields found (field -> value) and the lines that were not fields."""

    fields: dict[str, str]
    free_text: str


def split_message(body: str, rules: UnderstandingRules, subject: str = "") -> Split:
    """Drop quoted lines and earlier mails; separate the signature or mobile footer.

    A forwarded mail is not an earlier mail: it is read, after its header block (its
    subject's words kept), and the forwarder's own lines above it stay too ("voir ma fille
    ci-dessous"). The signature is the forwarder's, or, when nothing follows, the last one.
    Quoted earlier mails are kept apart (Split.quoted), in order."""
    kept: list[str] = []
    quoted: list[str] = []  # the "> " lines and the earlier mails, in order
    signature = ""
    signatures: list[str] = []
    ends: list[int] = []  # where a part of the mail ends in `kept` (a forward, a signature)
    first = words(subject).split()[:1]
    forwarded = bool(first) and first[0] in rules.forward_subjects  # TR:, Fwd: ...
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    index = 0
    since: int | None = None  # where the first forwarded mail's lines start in `kept`
    unquote = False  # in a forward whose lines all start with ">" (Apple Mail)
    while index < len(lines):
        line = lines[index]
        if unquote and line.lstrip().startswith(">"):
            line = line.lstrip()[1:]
        folded = fold(line).strip()
        start = _forward_start(folded, forwarded, rules)
        if not start and forwarded and _outlook_block(lines, index, folded):
            start = "header"  # "De : Lina\nEnvoyé : samedi ..." under TR:, no address
        if start:
            after = index + (start == "marker")
            unquote = unquote or start == "quoted" or _quoted_below(lines, after)
            ends.append(len(kept))
            index = _skip_forward_header(lines, after, rules, kept, unquote)
            signature = ""
            since = len(kept) if since is None else since
            continue
        if _reply_header(lines, index, folded, rules):
            quoted += lines[index:]  # an earlier mail, quoted
            break
        if line.startswith("--") or any(folded.startswith(s) for s in rules.signature_starts):
            ends.append(len(kept))
            rest = lines[index + 1 :]
            ahead = next(
                (
                    i
                    for i, x in enumerate(rest)
                    if _forward_start(fold(x).strip(), forwarded, rules)
                    or _reply_header(rest, i, fold(x).strip(), rules)
                ),
                None,
            )
            own = rest if ahead is None else rest[:ahead]
            quoted += [x for x in own if x.lstrip().startswith(">")]  # below a mobile footer
            own = [x for x in own if not x.lstrip().startswith(">")]
            signature = _tidy(own) if line.startswith("--") else ""
            signatures.append(signature)
            if ahead is None:
                break
            index += 1 + ahead  # the forwarded or quoted mail below the signature
            continue
        if not line.lstrip().startswith(">"):
            kept.append(line.rstrip())
        else:
            quoted.append(line)
        index += 1
    closed = _closing_blocks(kept, [*ends, len(kept)], rules)
    return Split(
        _tidy(kept),
        signature,
        _forwarded(kept, since),
        "\n\n".join([*signatures, *_blocks(kept, closed)]).strip(),
        _earlier(quoted, rules),
        _tidy([x for i, x in enumerate(kept) if i not in closed]),
    )


def _blocks(kept: list[str], closed: set[int]) -> list[str]:
    """The closing blocks' lines, one text per block (consecutive indexes)."""
    blocks: list[list[str]] = []
    for i in sorted(closed):
        if not blocks or i - 1 not in closed:
            blocks.append([])
        blocks[-1].append(kept[i])
    return [_tidy(block) for block in blocks]


def _closing_blocks(kept: list[str], ends: list[int], rules: UnderstandingRules) -> set[int]:
    """The lines of `kept` signing a part below its closing ("Cordialement,\nSylvie
    Jacquet\nConseillère en insertion\nPLIE de Caen", "Merci\nDavid (plaquiste)"): the
    writer's name, job and town, not what they ask. Only short lines with no sentence of
    the writer's own ("je", "?") make such a block."""
    closed: set[int] = set()
    start = 0
    for end in ends:
        lines = [i for i in range(start, end) if kept[i].strip()]
        start = max(start, end)
        at = next(
            (n for n in range(len(lines) - 1, -1, -1) if _is_closing(kept[lines[n]], rules)),
            None,
        )
        if at is None or at < len(lines) - 1 - _MAX_SIGNED:
            continue
        if not any(len(kept[i].split()) >= 4 for i in lines[:at]):
            continue  # a closing closes something said: a greeting "slt" first signs nothing
        block = lines[at + 1 :]
        if all(_signature_like(kept[i], rules) for i in block):
            closed.update(block)
    return closed


def _is_closing(line: str, rules: UnderstandingRules) -> bool:
    """ "Cordialement,", "Merci beaucoup,", "Bien à vous, Monique": a closing, and at most a
    few words more (not "Merci de me mettre en relation avec un boulanger")."""
    folded = words(line)
    for closing in rules.closings:
        if folded == closing or (
            folded.startswith(closing + " ") and len(folded.split()) - len(closing.split()) <= 3
        ):
            return True
    return False


def _signature_like(line: str, rules: UnderstandingRules) -> bool:
    padded = f" {words(line)} "
    return (
        len(line) <= _MAX_SIGNED_LINE
        and "?" not in line
        and not any(f" {w} " in padded for w in rules.own_sentence_words)
    )


def _reply_header(lines: list[str], index: int, folded: str, rules: UnderstandingRules) -> bool:
    """A quoted earlier mail starts here; its header may be wrapped over two lines."""
    below = fold(lines[index + 1]).strip() if index + 1 < len(lines) else None
    return _is_reply_header(folded, below, rules) or _outlook_block(lines, index, folded)


def _outlook_block(lines: list[str], index: int, folded: str) -> bool:
    """ "De : Marie Dupont" right above "Envoyé : lundi 2 mars 2026": Outlook's header block
    of an earlier mail, which names the sender without an address when it is a contact."""
    if not _FROM.match(folded) or index + 1 >= len(lines):
        return False
    return bool(_SENT.match(fold(lines[index + 1]).lstrip(" >\t")))


def _is_reply_header(folded: str, below: str | None, rules: UnderstandingRules) -> bool:
    joined = f"{folded} {below}" if below is not None else ""
    return any(p.search(folded) or (joined and p.search(joined)) for p in rules.reply_headers)


def _quoted_below(lines: list[str], index: int) -> bool:
    """The forward's first line below its separator starts with ">"."""
    below = next((x for x in lines[index:] if x.strip()), "")
    return below.lstrip().startswith(">")


def _earlier(lines: list[str], rules: UnderstandingRules) -> str:
    """The quoted mails' own lines, each part (cut at its header) read unless it is one of
    our help mails; header lines, client footers and signatures dropped."""
    parts: list[list[str]] = [[]]
    in_signature = False
    unquoted = [raw.lstrip(" >\t") for raw in lines]
    folds = [fold(line).strip() for line in unquoted]
    for index, line in enumerate(unquoted):
        folded = folds[index]
        below = folds[index + 1] if index + 1 < len(folds) else None
        if _is_reply_header(folded, below, rules) or _header_line(line, rules):
            if parts[-1]:
                parts.append([])
            in_signature = False
            continue
        if line.startswith("--") or any(folded.startswith(s) for s in rules.signature_starts):
            in_signature = True
        if not in_signature:
            parts[-1].append(line.rstrip())
    own = [f" {words(' '.join(part))} " for part in parts]
    read = [
        part
        for part, padded in zip(parts, own, strict=True)
        if not any(f" {phrase} " in padded for phrase in rules.own_mail_phrases)
    ]
    return _tidy([line for part in read for line in part])


def _header_line(line: str, rules: UnderstandingRules) -> bool:
    """ "De : Mailflow <contact@...>", "Envoyé : mardi 1 décembre", "Objet : Re: ...": a
    quoted mail's header line (Outlook writes them without "> ")."""
    key, colon, _value = line.partition(":")
    return bool(colon) and len(key) <= 12 and words(key) in rules.forward_header_keys


def _forwarded(kept: list[str], since: int | None) -> str:
    return "" if since is None else _tidy(kept[since:])


def _forward_start(folded: str, forwarded: bool, rules: UnderstandingRules) -> str:
    """ "marker" on a forward's separator line, "header" on the first header line of a
    forward without one ("De : Léa <lea@...>" under a TR: subject), "quoted" on it when
    the forward's lines are all quoted ("> De : Léa", Apple Mail), else ""."""
    if any(p.search(folded) for p in rules.forward_markers):
        return "marker"
    if forwarded and any(p.search(folded) for p in rules.original_markers):
        return "marker"
    if forwarded and re.match(r"^(de|from) ?: .+@", folded):
        return "header"
    if forwarded and _QUOTED_FROM.match(folded):
        return "quoted"
    return ""


def _skip_forward_header(
    lines: list[str], index: int, rules: UnderstandingRules, kept: list[str], unquote: bool
) -> int:
    """The index of the first line after a forwarded mail's header block; its subject's
    words are added to `kept`."""
    while index < len(lines) and not lines[index].strip(" >\t" if unquote else None):
        index += 1
    while index < len(lines):
        line = lines[index].lstrip(" >\t") if unquote else lines[index]
        key, colon, value = line.partition(":")
        name = words(key)
        if not colon or name not in rules.forward_header_keys:
            break
        if name in rules.forward_subject_keys and value.strip():
            kept.append(value.strip())
        index += 1
    return index


def parse_form(text: str, rules: UnderstandingRules) -> Form:
    """Read known "Clé : valeur" lines; "Message :" takes the following free lines too.

    A hint in brackets inside a key is not part of it ("Lieu (ville ou département) :" is
    "Lieu"), and the words of a key are never read as an answer: a list of choices in an
    unknown key's hint ("(collégien, lycéen...)") is left out of the free text too."""
    fields: dict[str, str] = {}
    free: list[str] = []
    current: str | None = None
    for line in text.split("\n"):
        match = _FORM_LINE.match(line)
        key = _HINT.sub(" ", match.group(1)).strip() if match else ""
        field = rules.form_keys.get(words(key)) if match and len(key) <= _MAX_KEY else None
        if match and field:
            current = field
            fields[field] = match.group(2).strip()
        elif current == "message" and line.strip():
            fields["message"] = f"{fields['message']}\n{line.strip()}".strip()
        else:
            current = None
            free.append(_without_choice_hints(line, match))
    return Form(fields, "\n".join(free).strip())


def _without_choice_hints(line: str, match: re.Match[str] | None) -> str:
    """ "Ma situation (collégien, lycéen...) : salariée" -> "Ma situation : salariée"."""
    if match is None:
        return line
    key = _HINT.sub(lambda h: " " if _is_choice_list(h.group(0)) else h.group(0), match.group(1))
    return line[: match.start(1)] + key + line[match.end(1) :]


def _is_choice_list(hint: str) -> bool:
    return any(mark in hint for mark in (",", "...", "…", "/")) or " ou " in f" {words(hint)} "


def intro_name(text: str, rules: UnderstandingRules) -> tuple[str, str] | None:
    """ "je m'appelle Léa", "Je suis Léa" -> ("Léa", the phrase). Needs a capital, as names do."""
    tokens = tokenize(text)
    all_caps = text.upper() == text
    keys = [t.key for t in tokens]
    for i in range(len(tokens)):
        for intro in rules.name_intros:
            end = i + len(intro)
            if tuple(keys[i:end]) == intro and end < len(tokens):
                name = tokens[end]
                if _is_name(name.text, name.key, rules, all_caps):
                    return _title(name.text), text[tokens[i].start : name.end]
    return None


def signature_name(
    message: str, signature: str, rules: UnderstandingRules
) -> tuple[str, str] | None:
    """The first name closing a mail: "Merci, Léa", "Cordialement\\nLéa Martin", "-- \\nLéa"."""
    lines = [x.strip() for x in message.split("\n") if x.strip()][-1:]
    sig = [x.strip() for x in signature.split("\n") if x.strip()][:1]
    lowercase_mail = message == message.lower()
    for line in [*lines, *sig]:
        name = _closing_name(line, rules, lowercase_mail)
        if name:
            return name, line
    return None


def _closing_name(line: str, rules: UnderstandingRules, lowercase_mail: bool) -> str | None:
    """A name alone on a line ("Léa Martin"), or after a closing ("Merci, Léa")."""
    folded = words(line)
    tokens = tokenize(line)
    for closing in rules.closings:
        if folded == closing:
            return None
        if folded.startswith(closing + " "):
            tokens = tokens[len(closing.split()) :]
            break
    if not 1 <= len(tokens) <= 3 or any(not t.text.isalpha() for t in tokens):
        return None
    first = tokens[0]
    if len(tokens) > 1 and first.text.isupper() and not tokens[1].text.isupper():
        first = tokens[1]  # "MARTIN Léa"
    all_caps = line.upper() == line
    ok = _is_name(first.text, first.key, rules, all_caps or lowercase_mail)
    others_ok = all(t.key not in rules.stop_words and t.key not in rules.not_names for t in tokens)
    return _title(first.text) if ok and others_ok else None


def _is_name(text: str, key: str, rules: UnderstandingRules, any_case: bool) -> bool:
    return (
        text.isalpha()
        and len(text) >= 2
        and (any_case or text[0].isupper())
        and key not in rules.stop_words
        and key not in rules.not_names
    )


def _title(name: str) -> str:
    return name if not (name.isupper() or name.islower()) else name.capitalize()


def _tidy(lines: list[str]) -> str:
    return "\n".join(lines).strip()
