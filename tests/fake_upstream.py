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
    slow-long         the same, thirty of them (6 s: outlasts another replica's start)
    slow-once         the first request with a given last message waits 3 s; later ones do not
    no-usage          like the default, without a usage chunk
    rate-limited      HTTP 429 with Retry-After: 7
    cut-short         two content chunks, then the stream ends cleanly with no finish_reason
    json-answer       a whole JSON completion ("Whole answer."), even to a streaming request
    empty-200         HTTP 200 with an empty body
    bad-chunk         `data: 5`            null-choice   `choices: [null]`
    hang              says nothing for 5 s, then answers
    hang-midstream    two content chunks (half a JSON answer), then silence for 5 s
    slow-pauses       four pieces of the answer 0.4 s apart (a stream, or a JSON body), finishing normally
    reset-early       resets the connection (TCP RST) before any response header
    reset-midstream   resets the connection after two content chunks (a JSON answer: half of it)
    html-500          HTTP 500 with an HTML error page    unavailable   HTTP 503 with a JSON error
    no-choices        two content chunks, then a chunk without `choices`, then the end

The malformed answers (cut-short, bad-chunk, null-choice, no-choices) are malformed in kind when
the request does not stream: a JSON body cut in half, `5`, `choices: [null]`, no `choices`.

Any model follows a script in the prompt instead (`tests/scripted_model.py`: tool calls, text
before calls, refusals, reasoning deltas, JSON for schemas). Under `/strict/v1` the server is as
strict as OpenAI: a field Chat Completions does not define is a 400.

`POST /v1/embeddings` gives each input a vector of `dimensions` (default 8, at most 3072) floats from its
sha256, floats or base64 as asked; model `bad-request` is a 400 there too.
`POST /search` plays Tavily (key `tvly-test`). `POST /tokenize` plays vLLM's for model
`vllm-counted`. `/redirect?to=URL` answers 307 to URL.
`GET /fake/requests` returns every chat and embeddings request body received;
`DELETE /fake/requests` clears it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import socket
import struct
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
    elif model in ("slow", "slow-long"):
        for i in range(10 if model == "slow" else 30):
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


HTML_PAGE = (
    b"<html><head><title>500 Internal Server Error</title></head><body>"
    b"<h1>Internal Server Error</h1><pre>Traceback: secret-internal-host.example:8443</pre></body></html>"
)


async def _reset(request: Request, sent: bytes = b"", pause: float = 0.05) -> Response:
    """Write `sent` raw to the socket, wait, then reset the connection (RST, not a clean close).
    Reaches under the ASGI interface: uvicorn's `receive` is bound to a cycle that holds the
    transport."""
    transport = request.receive.__self__.transport  # type: ignore[attr-defined]
    if sent:
        transport.write(sent)
        await asyncio.sleep(pause)  # let the partial answer reach the client first
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    await asyncio.sleep(0.01)  # uvicorn sees the connection lost and drops the response below
    return Response(b"")


def _partial_stream(model: str) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    body = _sse(_chunk(model, {"role": "assistant", "content": "Partial "})) + _sse(
        _chunk(model, {"content": "answer"})
    )
    return head + f"{len(body):x}\r\n".encode() + body + b"\r\n"


def _partial_json(model: str) -> bytes:
    body = json.dumps(_completion(model, "Whole answer.")).encode()
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body[: len(body) // 2]


def _completion(model: str, content: str, finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": content}}
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
    }


MALFORMED_COMPLETIONS: dict[str, bytes] = {
    "cut-short": json.dumps(_completion("cut-short", "Whole answer.")).encode()[:40],
    "bad-chunk": b"5",
    "null-choice": json.dumps({"id": "x", "object": "chat.completion", "choices": [None]}).encode(),
    "no-choices": json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m"}).encode(),
}


async def _faults(body: dict[str, Any], request: Request) -> Response | None:
    """The fault models' answers (None: the model is not a fault, or not one for this request)."""
    model = body.get("model")
    stream = bool(body.get("stream"))
    if model == "reset-early":
        return await _reset(request)
    if model == "reset-midstream":
        return await _reset(request, _partial_stream(model) if stream else _partial_json(model))
    if model == "hang-midstream" and not stream:
        return await _reset(request, _partial_json(model), pause=5)
    if model == "html-500":
        return Response(HTML_PAGE, status_code=500, media_type="text/html")
    if model == "unavailable":
        error = {"message": "The engine is overloaded.", "type": "server_error", "param": None, "code": None}
        return JSONResponse({"error": error}, status_code=503)
    if not stream and model in MALFORMED_COMPLETIONS:
        return Response(MALFORMED_COMPLETIONS[model], media_type="application/json")
    if model == "slow-pauses":
        return StreamingResponse(_pauses(model, stream), media_type="text/event-stream")
    return None


async def _pauses(model: str, stream: bool) -> AsyncIterator[bytes]:
    """Four pieces 0.4 s apart: slower in all than a 1 s read timeout, never silent that long."""
    if stream:
        pieces = [_sse(_chunk(model, {"role": "assistant", "content": "slow "}))]
        pieces += [_sse(_chunk(model, {"content": f"tick{i} "})) for i in range(3)]
        pieces[-1] += _sse(_chunk(model, {}, "stop")) + b"data: [DONE]\n\n"
    else:
        whole = json.dumps(_completion(model, "slow tick0 tick1 tick2 ")).encode()
        pieces = [whole[i * len(whole) // 4 : (i + 1) * len(whole) // 4] for i in range(4)]
    for i, piece in enumerate(pieces):
        if i:
            await asyncio.sleep(0.4)
        yield piece


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
    if model == "json-answer":
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
    fault = await _faults(body, request)
    if fault is not None:
        return fault
    if model == "hang":
        await asyncio.sleep(5)
    if model == "empty-200":
        return Response(b"", status_code=200, media_type="text/event-stream")
    if model in ("cut-short", "bad-chunk", "null-choice", "no-choices", "hang-midstream") and body.get(
        "stream"
    ):

        async def faulty() -> AsyncIterator[bytes]:
            yield _sse(_chunk(model, {"role": "assistant", "content": "Partial "}))
            yield _sse(_chunk(model, {"content": "answer"}))
            if model == "bad-chunk":
                yield b"data: 5\n\n"
            elif model == "null-choice":
                yield _sse({"id": "x", "object": "chat.completion.chunk", "choices": [None]})
            elif model == "no-choices":
                yield _sse({"id": "x", "object": "chat.completion.chunk", "created": 0, "model": model})
            elif model == "hang-midstream":
                await asyncio.sleep(5)

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
        finish = "length" if model == "length" else "stop"
        return JSONResponse(_completion(model, f"Hello from {model}!", finish))
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


async def tokenize(request: Request) -> Response:
    """vLLM's `/tokenize` for model `vllm-counted` (4 tokens a message); other models: a 400."""
    body = await request.json()
    if body.get("model") != "vllm-counted":
        return JSONResponse({"error": {"message": "unknown model"}}, status_code=400)
    count = 4 * len(body.get("messages") or [])
    return JSONResponse({"count": count, "max_model_len": 2048, "tokens": list(range(count))})


def fake_vector(text: object, size: int) -> list[float]:
    """The fake upstream's embedding of one input (a string or token list): deterministic."""
    digest = hashlib.sha256(json.dumps(text).encode()).digest()
    return [(digest[i % 32] - 128) / 128 for i in range(size)]


async def embeddings(request: Request) -> Response:
    body = await request.json()
    received.append(body)
    if body.get("model") == "bad-request":
        error = {"message": "Invalid input.", "type": "invalid_request_error", "param": "input", "code": None}
        return JSONResponse({"error": error}, status_code=400)
    value = body["input"]
    inputs = [value] if isinstance(value, str) or (value and isinstance(value[0], int)) else value
    size = body.get("dimensions") or 8
    if not isinstance(size, int) or not 1 <= size <= 3072:  # OpenAI's largest model has 3072
        error = {"message": f"Invalid value for 'dimensions': {size}.", "type": "invalid_request_error"}
        return JSONResponse({"error": {**error, "param": "dimensions", "code": None}}, status_code=400)
    data = []
    for index, text in enumerate(inputs):
        vector: Any = fake_vector(text, size)
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(len(t) if isinstance(t, list) else len(t.split()) for t in inputs)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JSONResponse({"object": "list", "data": data, "model": body["model"], "usage": usage})


async def requests(request: Request) -> Response:
    if request.method == "DELETE":
        received.clear()
    return JSONResponse(received)


app = Starlette(
    routes=[
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/strict/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", models),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/strict/v1/models", models),
        Route("/search", tavily, methods=["POST"]),
        Route("/tokenize", tokenize, methods=["POST"]),
        Route("/redirect", redirect, methods=["GET", "POST"]),
        Route("/fake/requests", requests, methods=["GET", "DELETE"]),
    ]
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
