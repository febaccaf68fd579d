"""The CSV export's encoding, and the lines written in another one.

French agency tools write CSV as UTF-8 (Excel's "CSV UTF-8" adds a byte order mark) or as cp1252 (Excel's
plain "CSV", older tools). A file is sometimes both: rows pasted from another tool, two exports put end to end.
Read whole in one encoding, the other lines come out garbled ("HÃ©lÃ¨ne", or "H?l?ne"), and would be mailed so.

So the file's encoding is the one most of its non-ASCII lines are valid in (UTF-8 wins a tie), and a line in
the other is reported for rejection, never read garbled:

- a UTF-8 byte order mark declares UTF-8 (the tool that wrote it said so): nothing is read ahead, and a line
  that is not valid UTF-8 shows while reading, its undecodable bytes kept as lone surrogates (``surrogateescape``,
  which valid UTF-8 can never produce: PEP 383), so that its row is found and rejected;
- without a mark, the whole file is read ahead (a cp1252 'é' on the last line must not stop a run half-way): a
  wholly valid UTF-8 file is UTF-8 at the speed of the UTF-8 decoder; otherwise the lines that are valid
  multi-byte UTF-8 are looked for (a few C passes per MiB), and only a file that holds both kinds is classified
  line by line. A cp1252 line with accents is never valid UTF-8 in practice, but a UTF-8 line is always valid
  cp1252 (as mojibake), so in a cp1252 file the lines that are valid multi-byte UTF-8 are the foreign ones.

Line numbers count line breaks as Python's csv module sees them through a text file opened with
``newline=""``: LF, CRLF and a lone CR each end a line (the ``bytes.splitlines`` set).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

_CHUNK = 1 << 20
_LONG_LINE = 16 << 20  # a line longer than this is classified in pieces, so that memory stays bounded

FOREIGN_ERRORS = "m3mail.foreign"  # the error handler a UTF-8 file is read with (registered below)
_undecodable = [0]  # undecodable byte runs met by FOREIGN_ERRORS so far, all files together


def _foreign(error: UnicodeError) -> tuple[str, int]:
    """``surrogateescape``, counted: a reader knows rows may hold foreign bytes once the count moved."""
    _undecodable[0] += 1
    replacement, end = codecs.lookup_error("surrogateescape")(error)
    return str(replacement), end


codecs.register_error(FOREIGN_ERRORS, _foreign)


def undecodable_count() -> int:
    """How many undecodable byte runs the UTF-8 reads have met so far (compare before and after)."""
    return _undecodable[0]


@dataclass(frozen=True)
class Encoding:
    """How to read the file, and what was learnt of it ahead of reading.

    ``foreign_lines``: in a cp1252 file, the lines that are multi-byte UTF-8 (known ahead). In a UTF-8 file
    they are found while reading (``errors`` is FOREIGN_ERRORS). ``mixed`` counts, when the file was
    classified line by line, (lines in the file's encoding, lines in the other), non-ASCII lines only.
    """

    name: str  # the codec: "utf-8", "utf-8-sig", "utf-16" or "cp1252"
    errors: str = "strict"
    foreign_lines: frozenset[int] = field(default_factory=frozenset)
    mixed: tuple[int, int] | None = None

    @property
    def utf8(self) -> bool:
        return self.name in ("utf-8", "utf-8-sig")

    @property
    def other(self) -> str:
        """The encoding a foreign line is in."""
        return "cp1252" if self.utf8 else "UTF-8"

    @property
    def label(self) -> str:
        """``cp1252`` or, for a mixed file, ``cp1252 (3 of its 250 non-ASCII lines are UTF-8)``."""
        if not self.mixed:
            return self.name
        own, other = self.mixed
        return f"{self.name} ({other} of its {own + other} non-ASCII lines are {self.other})"


def detect_encoding(f: BinaryIO) -> Encoding:
    """The encoding of the open binary file ``f`` (read from its start; its position is left anywhere)."""
    f.seek(0)
    head = f.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return Encoding("utf-8-sig", FOREIGN_ERRORS)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Encoding("utf-16")  # no line-by-line check: a UTF-16 error stops the reading with its line
    f.seek(0)
    if _all_utf8(f):
        return Encoding("utf-8", FOREIGN_ERRORS)
    f.seek(0)
    if not _any_utf8_line(f):
        # cp1252 leaves five bytes undefined: they become U+FFFD rather than stopping the run
        return Encoding("cp1252", "replace")
    f.seek(0)
    utf8_lines, others = _classify(f)
    if len(utf8_lines) >= others:
        return Encoding("utf-8", FOREIGN_ERRORS, mixed=(len(utf8_lines), others))
    return Encoding("cp1252", "replace", frozenset(utf8_lines), mixed=(others, len(utf8_lines)))


def _all_utf8(f: BinaryIO) -> bool:
    """Whether the whole file decodes as UTF-8 (C speed: the incremental decoder over 1 MiB chunks)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := f.read(_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


# bytes.translate maps each byte to its role in UTF-8: "L" a lead byte (C2-F4, RFC 3629 section 4), "C" a
# continuation byte (80-BF), "." anything else. A valid multi-byte sequence always shows "LC".
_ROLES = bytes(b"L"[0] if 0xC2 <= b <= 0xF4 else b"C"[0] if 0x80 <= b <= 0xBF else b"."[0] for b in range(256))
_NOT_CONTINUATION = bytes(b for b in range(256) if not 0x80 <= b <= 0xBF)


def _any_utf8_line(f: BinaryIO) -> bool:
    """Whether some line is valid multi-byte UTF-8: the fast path of a cp1252 file, a few C passes per MiB.

    A block without a continuation byte holds no multi-byte sequence (one translate that keeps only them,
    tried until a block has some: a file that has them has them everywhere, its NBSPs, apostrophes and euros);
    otherwise only the lines where a lead byte meets a continuation byte are decoded (in French cp1252 text,
    "é" before a non-breaking space, as in "augmenté ?", is about the only such meeting).
    """
    cheap = True
    for block in _blocks(f):
        if block.isascii():
            continue
        if cheap:
            if not block.translate(None, _NOT_CONTINUATION):
                continue
            cheap = False
        roles = block.translate(_ROLES)
        at = roles.find(b"LC")
        while at >= 0:
            start = max(block.rfind(b"\n", 0, at), block.rfind(b"\r", 0, at)) + 1
            end = _line_end(block, at)
            if _is_utf8(block[start:end]):
                return True
            at = roles.find(b"LC", end)
    return False


def _line_end(block: bytes, at: int) -> int:
    """The position of the line break after ``at`` (or the block's end)."""
    ends = [e for e in (block.find(b"\n", at), block.find(b"\r", at)) if e >= 0]
    return min(ends) if ends else len(block)


def _classify(f: BinaryIO) -> tuple[list[int], int]:
    """The numbers of the non-ASCII lines valid in UTF-8, and the count of those that are not. Line by line,
    in Python: only a file that holds both pays for it."""
    utf8_lines: list[int] = []
    others, first = 0, 1
    for block in _blocks(f):
        if not block.isascii():
            for number, line in enumerate(block.splitlines(), first):
                if line.isascii():
                    continue
                if _is_utf8(line):
                    utf8_lines.append(number)
                else:
                    others += 1
        first += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
    return utf8_lines, others


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _blocks(f: BinaryIO) -> Iterator[bytes]:
    """The file as blocks of whole lines: a block ends after LF, or after a CR that is not its last byte (the
    LF of a CRLF may come with the next read). A line longer than _LONG_LINE is cut into pieces, never inside
    a UTF-8 sequence; the pieces of one line then count as lines of their own (only such a line is miscounted).
    """
    carry = b""
    while chunk := f.read(_CHUNK):
        data = carry + chunk if carry else chunk
        cut = max(data.rfind(b"\n"), data.rfind(b"\r", 0, len(data) - 1)) + 1
        if cut == 0:
            if len(data) < _LONG_LINE:
                carry = data
                continue
            cut = _sequence_start(data)
        yield data[:cut]
        carry = data[cut:]
    if carry:
        yield carry


def _sequence_start(data: bytes) -> int:
    """Where to cut ``data`` near its end without splitting a UTF-8 sequence: before a trailing lead byte and
    the (at most three) continuation bytes after it."""
    end = len(data)
    back = 0
    while back < 3 and 0x80 <= data[end - 1 - back] <= 0xBF:
        back += 1
    return end - back - 1 if data[end - 1 - back] >= 0xC2 else end
