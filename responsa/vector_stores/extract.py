"""A file's text, by its type: plain text, Markdown, JSON, CSV and the like as UTF-8; HTML
without its tags (the stdlib `html.parser`); PDF with `pypdf`. Anything else, or a file with no
text in it, raises `Unreadable` with the `last_error` code OpenAI uses."""

from __future__ import annotations

import html.parser
import io
import json
import os

TEXT_EXTENSIONS = frozenset(
    {".txt", ".md", ".markdown", ".json", ".csv", ".tsv", ".py", ".js", ".ts", ".yaml", ".yml",
     ".xml", ".rst", ".log", ".tex", ".sh", ".c", ".h", ".cpp", ".java", ".go", ".rs", ".rb", ".php", ".css"}
)  # fmt: skip
HTML_EXTENSIONS = frozenset({".html", ".htm"})


class Unreadable(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Text(html.parser.HTMLParser):
    SKIP = frozenset({"script", "style", "head", "title"})
    BLOCK = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _decode(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unreadable("invalid_file", f"The file '{filename}' is not valid UTF-8 text.") from None


def _html(data: bytes, filename: str) -> str:
    parser = _Text()
    parser.feed(_decode(data, filename))
    parser.close()
    return "".join(parser.parts)


def _pdf(data: bytes, filename: str) -> str:
    import pypdf
    from pypdf.errors import PyPdfError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        return "\n\n".join(page.extract_text() or "" for page in reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise Unreadable("invalid_file", f"The PDF '{filename}' could not be read: {exc}.") from None


def extract_text(data: bytes, filename: str, content_type: str) -> str:
    """The text of a file; raises `Unreadable` for an unsupported type or a file with no text."""
    extension = os.path.splitext(filename)[1].lower()
    kind = content_type.split(";")[0].strip().lower()
    if extension == ".pdf" or kind == "application/pdf":
        text = _pdf(data, filename)
    elif extension in HTML_EXTENSIONS or kind == "text/html":
        text = _html(data, filename)
    elif extension in TEXT_EXTENSIONS or kind.startswith("text/") or kind == "application/json":
        text = _decode(data, filename)
        if extension == ".json" or kind == "application/json":
            try:
                json.loads(text)
            except ValueError:
                raise Unreadable("invalid_file", f"The file '{filename}' is not valid JSON.") from None
    else:
        raise Unreadable(
            "unsupported_file",
            f"The file type of '{filename}' ({kind or 'unknown'}) is not supported: use text, Markdown, "
            "JSON, CSV, HTML or PDF.",
        )
    if not text.strip():
        raise Unreadable("invalid_file", f"The file '{filename}' contains no text.")
    return text
