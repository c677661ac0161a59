"""The content index over a directory tree."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from responsa.recording import cassette
from responsa.recording.index import RecordingIndex
from responsa.recording.keys import request_key
from tests.support import SEEDS


def _key(recording: cassette.Recording) -> str:
    return request_key("POST", recording.endpoint, recording.body, recording.test_id)


def test_seeds_load_as_they_are_under_any_name_and_depth(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, nested / (seed.stem + ".anything"))
    (tmp_path / "notes.md").write_text("# not a recording")
    (tmp_path / "broken.json").write_text("{")
    index = RecordingIndex.scan([tmp_path])
    assert len(index) == 3
    for seed in SEEDS.glob("*.txt"):
        recording = cassette.load(seed)
        found = index.find(_key(recording))
        assert found is not None and found.test_id == recording.test_id


def test_id_normalization_mapping_is_applied(tmp_path: Path) -> None:
    seed = json.loads((SEEDS / "001_de0f71cbc77741e1.txt").read_text())
    seed["request"]["body"]["messages"][0]["content"] = "call call_ORIGINAL now"
    seed["id_normalization_mapping"] = {"call_ORIGINAL": "call_norm1"}
    path = tmp_path / "mapped.json"
    path.write_text(json.dumps(seed))
    recording = cassette.load(path)
    assert recording.body["messages"][0]["content"] == "call call_norm1 now"
    assert RecordingIndex.scan([tmp_path]).find(_key(recording)) is not None


def test_miss_names_key_test_id_and_closest(tmp_path: Path) -> None:
    shutil.copy(SEEDS / "001_de0f71cbc77741e1.txt", tmp_path)
    seed = cassette.load(tmp_path / "001_de0f71cbc77741e1.txt")
    index = RecordingIndex.scan([tmp_path])
    body = json.loads(json.dumps(seed.body))
    body["messages"][-1]["content"] = "Repeat it in lower case."
    key = request_key("POST", "/v1/chat/completions", body, seed.test_id)
    miss = index.miss(key, "/v1/chat/completions", body, seed.test_id)
    assert key in miss.message and str(seed.test_id) in miss.message
    assert "001_de0f71cbc77741e1.txt" in miss.message
    diff = miss.message.splitlines()
    assert any(line.startswith("-") and "Repeat your previous response in all caps." in line for line in diff)
    assert any(line.startswith("+") and "Repeat it in lower case." in line for line in diff)
