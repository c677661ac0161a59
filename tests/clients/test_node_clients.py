"""The Vercel AI SDK and the Codex CLI (npm packages, installed by scripts/test.sh into
tests/clients/node_modules), unmodified, against Responsa in front of a strict upstream that
follows prompt scripts (tests/scripted_model.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.scripted_model import script
from tests.support import ROOT, Process, Server, base_env, upstream_requests

pytestmark = pytest.mark.clients
CLIENTS = ROOT / "tests" / "clients"
NODE = shutil.which("node")
CODEX = CLIENTS / "node_modules" / ".bin" / "codex"


def need(path: Path) -> None:
    if NODE is None:
        pytest.skip("node is not installed (Node 20 runs the AI SDK and Codex tests)")
    if not path.exists():
        pytest.skip(
            f"{path.relative_to(ROOT)} is missing: run `npm ci --prefix tests/clients` (scripts/test.sh does)"
        )


def ai_sdk(server: Server, scenario: str) -> dict[str, Any]:
    need(CLIENTS / "node_modules" / "ai")
    env = {**base_env(), "BASE_URL": server.url + "/v1"}
    done = subprocess.run(
        [str(NODE), str(CLIENTS / "ai_sdk.mjs"), scenario],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"], result
    return result


def test_ai_sdk_multi_turn_with_store_sends_item_references(strict_server: Server, fake: Process) -> None:
    result = ai_sdk(strict_server, "multiTurn")
    assert result["first"] == "Noted, Ada." and result["second"] == "You are Ada."
    messages = upstream_requests(fake)[1]["messages"]
    assert messages[1] == {"role": "assistant", "content": [{"type": "text", "text": "Noted, Ada."}]}


def test_ai_sdk_tool_loop_with_text_before_the_call(strict_server: Server, fake: Process) -> None:
    result = ai_sdk(strict_server, "toolLoop")
    assert result["calls"] == ["Paris"] and result["steps"] == 2
    assert result["text"] == 'Result: {"city":"Paris","sky":"sunny"}'
    second = upstream_requests(fake)[1]["messages"]
    assert second[1]["content"] == [{"type": "text", "text": "Let me check."}] and second[1]["tool_calls"]


def test_ai_sdk_stream_text(strict_server: Server, fake: Process) -> None:
    result = ai_sdk(strict_server, "stream")
    assert result["text"] == "One two three." and result["finishReason"] == "stop"
    assert result["usage"]["inputTokens"] == 11 and result["usage"]["outputTokens"] == 5


def test_ai_sdk_structured_output(strict_server: Server, fake: Process) -> None:
    result = ai_sdk(strict_server, "structured")
    assert result["output"] == {"city": "x", "days": 1.5}
    (body,) = upstream_requests(fake)
    assert body["response_format"]["json_schema"]["strict"] is True


class Codex:
    """`codex exec` with a fresh CODEX_HOME whose only provider is Responsa (wire_api responses)."""

    def __init__(self, server: Server, tmp: Path) -> None:
        need(CODEX)
        self.home = tmp / "codex-home"
        self.work = tmp / "work"
        self.home.mkdir()
        self.work.mkdir()
        (self.home / "config.toml").write_text(
            'model_provider = "responsa"\n'
            'approval_policy = "never"\n'
            'sandbox_mode = "workspace-write"\n'
            "[model_providers.responsa]\n"
            'name = "Responsa"\n'
            f'base_url = "{server.url}/v1"\n'
            'wire_api = "responses"\n'
            'env_key = "RESPONSA_KEY"\n'
            "request_max_retries = 0\n"
            "stream_max_retries = 0\n"
        )
        git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
        subprocess.run([*git, "init", "-q"], cwd=self.work, check=True)
        (self.work / "README.md").write_text("hello\n")
        subprocess.run([*git, "add", "."], cwd=self.work, check=True)
        subprocess.run([*git, "commit", "-qm", "init"], cwd=self.work, check=True)

    def __call__(self, *args: str) -> str:
        env = {
            **base_env(),
            "CODEX_HOME": str(self.home),
            "RESPONSA_KEY": "test-key",
            "GIT_ALLOW_PROTOCOL": "file",  # its plugin sync stays on this machine
        }
        done = subprocess.run(
            [str(CODEX), "exec", "--skip-git-repo-check", *args],
            cwd=self.work,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"codex exited {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}"
        return done.stdout.strip()


@pytest.fixture()
def codex(strict_server: Server, tmp_path: Path) -> Codex:
    return Codex(strict_server, tmp_path)


def test_codex_text_turn_and_resume(codex: Codex, fake: Process) -> None:
    """The default model: `additional_tools` input, reasoning, store false, zstd-capable."""
    assert (
        codex(script({"reason": "Greeting.", "say": "Hi from the script."}, text="Say hi."))
        == "Hi from the script."
    )
    first = upstream_requests(fake)[0]
    assert "client_metadata" not in first and "extra_body" not in first
    resumed = codex("resume", "--last", script({"say": "Resumed."}, text="Again?"))
    assert resumed == "Resumed."
    history = upstream_requests(fake)[-1]["messages"]
    assert any(m.get("reasoning_content") == "Greeting." for m in history), "sealed reasoning came back"


def test_codex_shell_round_trip(codex: Codex, fake: Process) -> None:
    """Its default model reaches the shell through the code-mode `exec` custom tool."""
    code = (
        'const r = await tools.exec_command({cmd: "echo made-by-codex > out.txt"}); text(JSON.stringify(r));'
    )
    out = codex(
        script(
            {"say": "Running it.", "calls": [{"name": "functions__exec", "input": code}]},
            {"say": "Done."},
            text="Write a file.",
        )
    )
    assert out == "Done."
    assert (codex.work / "out.txt").read_text().strip() == "made-by-codex"
    second = upstream_requests(fake)[1]["messages"]
    call = next(m for m in second if m.get("tool_calls"))
    assert call["tool_calls"][0]["function"]["name"] == "functions__exec"
    assert json.loads(call["tool_calls"][0]["function"]["arguments"]) == {"input": code}


PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello from apply_patch\n*** End Patch\n"


def test_codex_apply_patch_custom_tool(codex: Codex, fake: Process) -> None:
    """A catalog model: `apply_patch` is a top-level custom tool (lark grammar), beside
    `tool_search` (client) and `web_search` (left out: no search provider)."""
    out = codex(
        "-m",
        "gpt-5.5",
        script(
            {"calls": [{"name": "apply_patch", "input": PATCH}]}, {"say": "Patched."}, text="Add hello.txt."
        ),
    )
    assert out == "Patched."
    assert (codex.work / "hello.txt").read_text() == "hello from apply_patch\n"
    offered = {t["function"]["name"] for t in upstream_requests(fake)[0]["tools"]}
    assert {"apply_patch", "tool_search"} <= offered and "web_search" not in offered


def test_codex_unknown_model_with_namespace_tools(codex: Codex, fake: Process) -> None:
    assert codex("-m", "my-local-model", script({"say": "Plain."}, text="Hi.")) == "Plain."
    offered = {t["function"]["name"] for t in upstream_requests(fake)[0]["tools"]}
    assert any(name.startswith("multi_agent_v1__") for name in offered)


def test_codex_output_schema(codex: Codex, fake: Process, tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    out = codex("--output-schema", str(path), script({"json": True}, text="Answer."))
    assert json.loads(out) == {"answer": "x"}
    body = upstream_requests(fake)[0]
    assert body["response_format"]["json_schema"]["strict"] is True


def test_clients_directory_is_installed() -> None:
    """CI installs the Node clients; a missing install must not pass silently there."""
    if os.environ.get("CI") == "true":
        assert (CLIENTS / "node_modules" / "ai").is_dir() and CODEX.exists()
    else:
        pytest.skip("only checked in CI")
