"""File citations: the markers a model writes after reading `file_search` results become
`file_citation` annotations of its answer.

The tool message asks the model to cite as `<|file-…|>` (`tools/file_search.py`). While the
answer streams, `CitedText` takes each text delta, removes the markers of files the search
returned (and the one space before each), and says where each stood in the text the client
sees:

    cited = CitedText({"file-abc": "report.pdf"})
    cited.feed("Revenue rose 15% <|file-")    # [("text", "Revenue rose 15%")]
    cited.feed("abc|>.")                       # [("cite", {...index 16...}), ("text", ".")]
    cited.flush()                              # "" (text held back in case it began a marker)

So the streamed deltas add up to the final text, each annotation arrives as
`response.output_text.annotation.added` right after the text it follows, and its `index` is a
character offset in that text. A marker naming a file the search did not return is left as
text. The model's own words (markers included) are what later turns send upstream.
"""

from __future__ import annotations

import re
from typing import Any, Literal

MARKER = re.compile(r" ?<\|(file-[A-Za-z0-9_\-]{1,96})\|>")
# A text end that may be the start of a marker: "<", "<|", "<|fi", "<|file-ab", "<|file-ab|".
_OPENING = re.compile(r"<(?:\|(?:f(?:i(?:l(?:e(?:-[A-Za-z0-9_\-]{0,96}\|?)?)?)?)?)?)?")

Piece = tuple[Literal["text"], str] | tuple[Literal["cite"], dict[str, Any]]


def _held(text: str) -> int:
    """How many characters at the end of `text` could begin a marker, with its space."""
    start = text.rfind("<")
    if start >= 0 and _OPENING.fullmatch(text, start):
        return len(text) - start + (1 if start > 0 and text[start - 1] == " " else 0)
    return 1 if text.endswith(" ") else 0


class CitedText:
    """One `output_text` part being streamed, with the files it may cite."""

    __slots__ = ("files", "length", "pending")

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files  # file id -> filename
        self.pending = ""  # text held back: it may begin a marker
        self.length = 0  # characters of this part the client has been sent

    def _text(self, text: str, pieces: list[Piece]) -> None:
        if text:
            pieces.append(("text", text))
            self.length += len(text)

    def feed(self, delta: str) -> list[Piece]:
        text, self.pending = self.pending + delta, ""
        pieces: list[Piece] = []
        position = 0
        for marker in MARKER.finditer(text):
            file_id = marker.group(1)
            if file_id not in self.files:
                continue
            self._text(text[position : marker.start()], pieces)
            citation = {"type": "file_citation", "file_id": file_id, "filename": self.files[file_id]}
            pieces.append(("cite", {**citation, "index": self.length}))
            position = marker.end()
        rest = text[position:]
        held = _held(rest)
        self._text(rest[: len(rest) - held], pieces)
        self.pending = rest[len(rest) - held :]
        return pieces

    def flush(self) -> str:
        """The text still held back, once the part ends."""
        text, self.pending = self.pending, ""
        self.length += len(text)
        return text
