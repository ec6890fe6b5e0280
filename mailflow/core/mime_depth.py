"""How deeply a raw message's MIME parts nest, read from its bytes before anything parses it.

Python's email parser and everything after it (copying, walking, writing) recurse once or
more per level: a 1,500-deep multipart or a 200-deep chain of forwarded messages exhausts
the interpreter's stack. This scan follows the same structure the parser would (Content-Type
of each header block, boundary lines of every enclosing multipart, forwarded messages, the
children of a multipart/digest) line by line, with a stack that never grows past the limit,
so its cost is linear in the size of the message.
"""

from __future__ import annotations

import re

# Levels that parsing, copying, scrubbing and writing a message are known to survive under
# Python's default recursion limit (1,000 frames); limits.max_mime_depth is at most this.
SAFE_DEPTH = 100
_CONTENT_TYPE = re.compile(rb"(?im)^content-type[ \t]*:")
_HEADER = re.compile(rb"(?i)content-type[ \t]*:")
_HEADER_LINE = re.compile(rb"From |[\x21-\x39\x3b-\x7e]*:|[ \t]")  # as email.feedparser
_TYPE = re.compile(rb"[ \t]*([!-~]+?)[ \t]*(?:;|$)")
_BOUNDARY = re.compile(rb'(?i);[ \t]*boundary[ \t]*=[ \t]*(?:"([^"]*)"|([^;\s]+))')
_MESSAGE_TYPES = (b"message/rfc822", b"message/global")


def _content_type(value: bytes, digest_child: bool) -> tuple[bytes, bytes | None]:
    """(type, boundary) from an unfolded Content-Type value; the default when absent."""
    found = _TYPE.match(value)
    default = b"message/rfc822" if digest_child else b"text/plain"
    ctype = found.group(1).lower() if found and b"/" in found.group(1) else default
    boundary = _BOUNDARY.search(value)
    return ctype, (boundary.group(1) or boundary.group(2)) if boundary else None


def deeper_than(raw: bytes, limit: int) -> bool:
    """Are there more than `limit` containers (multiparts, forwarded messages) on the way
    to some part? A plain text message has none, a text in a multipart one."""
    found = _CONTENT_TYPE.finditer(raw)  # each level needs a Content-Type (a digest: 2)
    for counted, _ in enumerate(found, start=1):
        if counted * 2 > limit:
            return _depth(raw, limit) > limit
    return False  # few Content-Type headers: shallow, without reading further


def _depth(raw: bytes, limit: int) -> int:
    """The deepest nesting, counted up to `limit` + 1."""
    scan = _Scan()
    pos, size = 0, len(raw)
    while pos < size and scan.deepest <= limit:
        end = raw.find(b"\n", pos)
        end = size if end < 0 else end
        scan.line(raw[pos:end].rstrip(b"\r"))
        pos = end + 1
    return scan.deepest


class _Scan:
    """The parser's view of where a line falls: in a header block or a body, inside which
    enclosing multiparts (their boundaries) and forwarded messages."""

    def __init__(self) -> None:
        self.stack: list[tuple[bytes | None, bool]] = []  # (boundary or None, digest)
        self.in_headers, self.digest_child, self.deepest = True, False, 0
        self.value, self.collecting = b"", False  # the Content-Type value, and if it goes on

    def line(self, line: bytes) -> None:
        mark = line[2:].rstrip(b" \t") if line.startswith(b"--") else None
        if mark is not None and self._boundary(mark):
            return  # every enclosing boundary ends a part, even in its header block
        if not self.in_headers:
            return
        while self.in_headers:
            if _HEADER_LINE.match(line):
                self._header(line)
                return
            self._end_of_headers()  # a blank line, or a line that is no header
            if not line.strip():
                return
        if mark is not None:  # no blank line after the headers: the body starts here
            self._boundary(mark)

    def _header(self, line: bytes) -> None:
        if line[:1] in (b" ", b"\t"):
            self.value += line if self.collecting and len(self.value) < 4096 else b""
            return
        found = None if self.value else _HEADER.match(line)  # the first one counts
        self.collecting = found is not None
        self.value = line[found.end() :] if found else self.value

    def _end_of_headers(self) -> None:
        ctype, boundary = _content_type(self.value, self.digest_child)
        self.value, self.collecting, self.digest_child = b"", False, False
        if ctype.startswith(b"multipart/") and boundary:
            self.stack.append((boundary, ctype == b"multipart/digest"))
            self.in_headers = False
        elif ctype in _MESSAGE_TYPES:
            self.stack.append((None, False))  # the forwarded message's headers come next
        else:
            self.in_headers = False
        self.deepest = max(self.deepest, len(self.stack))

    def _boundary(self, mark: bytes) -> bool:
        for index in range(len(self.stack) - 1, -1, -1):
            boundary, digest = self.stack[index]
            if boundary is None:
                continue
            if mark == boundary:  # a new part of this multipart: inner ones are over
                del self.stack[index + 1 :]
                self.in_headers, self.digest_child = True, digest
                self.value, self.collecting = b"", False
                return True
            if mark == boundary + b"--":  # its end: back in the enclosing body
                del self.stack[index:]
                self.in_headers, self.value, self.collecting = False, b"", False
                return True
        return False
