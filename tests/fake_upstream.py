"""A fake OpenAI-compatible Chat Completions server for tests (it plays the model).

Run: `python tests/fake_upstream.py --port N`. The upstream model name picks the behaviour:

    anything          streams "Hello from <model>!" in three chunks, then usage
    fail-midstream    two content chunks, then the connection breaks
    bad-request       HTTP 400 with an OpenAI error body (code "invalid_base64")
    server-error      HTTP 500
    length            stops with finish_reason "length"
    refusal           streams a refusal instead of text
    tool-call         calls the first offered tool (every required argument "Paris"), then
                      answers in text once the last message is a tool result
    tool-loop         calls the first offered tool every time
    slow              one content chunk per 0.2 s, ten of them
    slow-once         the first request with a given last message waits 3 s; later ones do not
    no-usage          like the default, without a usage chunk
    rate-limited      HTTP 429 with Retry-After: 7
    cut-short         two content chunks, then the stream ends cleanly with no finish_reason
    json-answer       a whole JSON completion, though the request asked for a stream
    empty-200         HTTP 200 with an empty body
    bad-chunk         `data: 5`            null-choice   `choices: [null]`
    hang              says nothing for 5 s, then answers

Any model follows a script in the prompt instead (`tests/scripted_model.py`: tool calls, text
before calls, refusals, reasoning deltas, JSON for schemas). Under `/strict/v1` the server is as
strict as OpenAI: a field Chat Completions does not define is a 400.

`POST /search` plays Tavily (key `tvly-test`). `/redirect?to=URL` answers 307 to URL.
`GET /fake/requests` returns every chat request body received; `DELETE /fake/requests` clears it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import scripted_model
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

received: list[dict[str, Any]] = []


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
        "service_tier": "default",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def _usage(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
        "choices": [],
        "usage": {
            "prompt_tokens": 11,
            "completion_tokens": 5,
            "total_tokens": 16,
            "prompt_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 3},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


async def _scripted(body: dict[str, Any], step: dict[str, Any], last_tool: str) -> AsyncIterator[bytes]:
    model = body["model"]
    for delta in scripted_model.deltas(body, step, last_tool):
        yield _sse(_chunk(model, delta))
    yield _sse(_chunk(model, {}, scripted_model.finish_reason(step)))
    if (body.get("stream_options") or {}).get("include_usage"):
        yield _sse(_usage(model))
    yield b"data: [DONE]\n\n"


async def _stream(body: dict[str, Any]) -> AsyncIterator[bytes]:
    model = body["model"]
    yield _sse(_chunk(model, {"role": "assistant", "content": ""}))
    finish = "stop"
    if model == "refusal":
        for piece in ("I can't ", "help with that."):
            yield _sse(_chunk(model, {"refusal": piece}))
    elif (
        model in ("tool-call", "tool-loop")
        and body.get("tools")
        and (model == "tool-loop" or body["messages"][-1]["role"] != "tool")
    ):
        tool = body["tools"][0]["function"]
        required = (tool.get("parameters") or {}).get("required") or ["city"]
        arguments = json.dumps({name: "Paris" for name in required})
        call_id = "call_fake1" if model == "tool-call" else f"call_fake{len(body['messages'])}"
        first = {
            "index": 0,
            "id": call_id,
            "type": "function",
            "function": {"name": tool["name"], "arguments": ""},
        }
        yield _sse(_chunk(model, {"tool_calls": [first]}))
        for piece in (arguments[:5], arguments[5:]):
            yield _sse(_chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        finish = "tool_calls"
    elif model == "slow-once" and _first_time(body):
        await asyncio.sleep(3)
        yield _sse(_chunk(model, {"content": "late"}))
    elif model == "slow":
        for i in range(10):
            await asyncio.sleep(0.2)
            yield _sse(_chunk(model, {"content": f"tick{i} "}))
    else:
        for piece in ("Hello ", "from ", f"{model}!"):
            yield _sse(_chunk(model, {"content": piece}))
        if model == "fail-midstream":
            raise RuntimeError("the fake upstream breaks the stream on purpose")
        if model == "length":
            finish = "length"
    yield _sse(_chunk(model, {}, finish))
    if model != "no-usage" and (body.get("stream_options") or {}).get("include_usage"):
        yield _sse(_usage(model))
    yield b"data: [DONE]\n\n"


slow_once_seen: set[str] = set()


def _first_time(body: dict[str, Any]) -> bool:
    last = json.dumps(body["messages"][-1], sort_keys=True)
    if last in slow_once_seen:
        return False
    slow_once_seen.add(last)
    return True


async def chat(request: Request) -> Response:
    body = await request.json()
    received.append(body)
    model = body.get("model")
    if request.url.path.startswith("/strict/"):
        problem = scripted_model.strict_problem(body)
        if problem is not None:
            error = {"message": problem, "type": "invalid_request_error", "param": None, "code": None}
            return JSONResponse({"error": error}, status_code=400)
    script = scripted_model.script_of(body)
    if script is not None and body.get("stream"):
        return StreamingResponse(_scripted(body, *script), media_type="text/event-stream")
    if model == "json-answer" and body.get("stream"):
        message = {"role": "assistant", "content": "Whole answer."}
        completion = {
            "id": "chatcmpl-json",
            "object": "chat.completion",
            "created": 1700000000,
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        }
        return JSONResponse(completion)
    if model == "hang":
        await asyncio.sleep(5)
    if model == "empty-200":
        return Response(b"", status_code=200, media_type="text/event-stream")
    if model in ("cut-short", "bad-chunk", "null-choice") and body.get("stream"):

        async def faulty() -> AsyncIterator[bytes]:
            yield _sse(_chunk(model, {"role": "assistant", "content": "Partial "}))
            yield _sse(_chunk(model, {"content": "answer"}))
            if model == "bad-chunk":
                yield b"data: 5\n\n"
            elif model == "null-choice":
                yield _sse({"id": "x", "object": "chat.completion.chunk", "choices": [None]})

        return StreamingResponse(faulty(), media_type="text/event-stream")
    if model == "rate-limited":
        error = {
            "message": "Rate limit reached.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
        return JSONResponse({"error": error}, status_code=429, headers={"Retry-After": "7"})
    if model == "bad-request":
        return JSONResponse(
            {
                "error": {
                    "message": "Invalid base64 image_url.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_base64",
                }
            },
            status_code=400,
        )
    if model == "server-error":
        return JSONResponse(
            {"error": {"message": "upstream exploded", "type": "server_error", "param": None, "code": None}},
            status_code=500,
        )
    if not body.get("stream"):
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 1700000000,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": f"Hello from {model}!"},
                    }
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
            }
        )
    return StreamingResponse(_stream(body), media_type="text/event-stream")


async def tavily(request: Request) -> Response:
    if request.headers.get("authorization") != "Bearer tvly-test":
        return JSONResponse(
            {"detail": {"error": "Unauthorized: missing or invalid API key."}}, status_code=401
        )
    query = (await request.json())["query"]
    results = [
        {
            "title": f"About {query}",
            "url": "https://example.com/a",
            "content": f"{query} is in France.",
            "score": 0.9,
        }
    ]
    return JSONResponse({"query": query, "results": results})


async def redirect(request: Request) -> Response:
    return Response(status_code=307, headers={"location": request.query_params["to"]})


async def models(_: Request) -> Response:
    return JSONResponse(
        {
            "object": "list",
            "data": [{"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}],
        }
    )


async def requests(request: Request) -> Response:
    if request.method == "DELETE":
        received.clear()
    return JSONResponse(received)


app = Starlette(
    routes=[
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/strict/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", models),
        Route("/strict/v1/models", models),
        Route("/search", tavily, methods=["POST"]),
        Route("/redirect", redirect, methods=["GET", "POST"]),
        Route("/fake/requests", requests, methods=["GET", "DELETE"]),
    ]
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
