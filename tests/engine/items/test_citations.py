"""Citation markers streamed in any split become the same text and annotations."""

from __future__ import annotations

from typing import Any

from responsa.engine.items.citations import CitedText
from responsa.engine.items.messages import MessageItem

FILES = {"file-abc123": "report.pdf", "file-z9": "notes.md"}
WRITTEN = "Revenue rose 15% <|file-abc123|>. Costs fell<|file-z9|> too <|file-nope|>; a < b <|fi"
SHOWN = "Revenue rose 15%. Costs fell too <|file-nope|>; a < b <|fi"


def run(deltas: list[str]) -> tuple[str, list[dict[str, Any]]]:
    cited = CitedText(FILES)
    text, annotations = [], []
    for delta in deltas:
        for kind, value in cited.feed(delta):
            if kind == "text":
                text.append(value)
            else:
                annotations.append(value)
    text.append(cited.flush())
    return "".join(text), annotations


def test_every_split_gives_the_same_text_and_annotations() -> None:
    expected = (
        SHOWN,
        [
            {"type": "file_citation", "file_id": "file-abc123", "filename": "report.pdf", "index": 16},
            {"type": "file_citation", "file_id": "file-z9", "filename": "notes.md", "index": 28},
        ],
    )
    assert run([WRITTEN]) == expected
    assert run(list(WRITTEN)) == expected  # one character at a time
    for cut in range(1, len(WRITTEN)):
        for second in range(cut + 1, len(WRITTEN), 7):
            assert run([WRITTEN[:cut], WRITTEN[cut:second], WRITTEN[second:]]) == expected, (cut, second)


def test_message_item_streams_clean_text_and_keeps_the_models_words() -> None:
    item = MessageItem(0, "msg_1", FILES)
    events = [item.open()]
    for piece in ("Fact <|fil", "e-z9|>.", " More"):
        events += item.text(piece)
    events += item.close()
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    final = item.item("completed")["content"][0]
    assert deltas == final["text"] == "Fact. More"
    assert final["annotations"] == [
        {"type": "file_citation", "file_id": "file-z9", "filename": "notes.md", "index": 4}
    ]
    added = [e for e in events if e["type"] == "response.output_text.annotation.added"]
    assert [(e["annotation_index"], e["content_index"]) for e in added] == [(0, 0)]
    assert item.text_so_far == "Fact <|file-z9|>. More"  # what the next upstream call carries
