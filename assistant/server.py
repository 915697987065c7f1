"""An OpenAI-compatible HTTP API over the assistant (FastAPI + uvicorn): `assistant api`.

    POST /v1/chat/completions   the cited RAG answer, streamed (SSE) or not, in OpenAI's shapes
    GET  /v1/models             the one model served
    POST /v1/ingest             {"paths": [...]} on the server's disk -> the ingest report
                                (files of ``readers.EXTENSIONS``: .txt .md .pdf .docx .pptx …)
    GET  /v1/documents          the indexed documents
    GET  /health                {"status": "ok"} (no token needed)

The last message of a chat request is the question; the earlier user and assistant messages
are the history. System messages are ignored: the assistant's own system prompt, which
makes it answer from the sources only, always applies. The answer's citations are in an
extra field, ``"citations"`` (the objects of ``Answer.to_dict()``), beside ``"refused"`` and
``"thinking"``; they are ``[n]`` in the text.

Streaming sends the model's answer tokens as content deltas and its thinking as
``reasoning_content`` deltas. The final text can differ from the streamed tokens: when the
model cites nothing, the core marks sentences with the source they quote (``[n]`` inserted
before the full stop). When the final text only extends what was streamed, the rest is sent
as a last content delta; in every case the final chunk carries the whole final text in
``"answer"`` with ``"citations"``, ``"refused"`` and ``"thinking"``, so a client that wants the
exact cited answer replaces the streamed text with it.

One request touches the models at a time (llama.cpp is not re-entrant): others wait their
turn. Errors use OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import hmac
import json
import socket
import sys
import threading
import time
import uuid
from typing import Any, Iterator, Optional

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import AssistantError
from .readers import EXTENSIONS
from .types import Answer, IngestReport, Sources, Token

_ROLES = {"system", "developer", "user", "assistant"}


class APIError(Exception):
    """A request the API refuses, with the HTTP status and OpenAI's error fields."""

    def __init__(self, status: int, message: str, param: Optional[str] = None,
                 type_: str = "invalid_request_error", code: Optional[str] = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.type, self.code = status, message, param, type_, code

    def response(self) -> JSONResponse:
        return JSONResponse(_error_body(self.message, self.type, self.param, self.code), status_code=self.status,
                            headers={"WWW-Authenticate": "Bearer"} if self.status == 401 else None)


def _error_body(message: str, type_: str = "invalid_request_error", param: Optional[str] = None,
                code: Optional[str] = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


# Request checking ------------------------------------------------------------------------------


def _text(content: Any, where: str) -> str:
    """A message's text: a string, or OpenAI's list of {"type": "text", "text"} parts."""
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        texts = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise APIError(400, f"{where}[{i}]: only text parts ({{'type': 'text', 'text': ...}}) are supported",
                               where)
            texts.append(part["text"])
        return "\n".join(texts)
    raise APIError(400, f"{where}: expected a string or a list of text parts, got {type(content).__name__}", where)


def parse_chat(body: Any) -> dict[str, Any]:
    """Check a chat request; returns question, history, stream and the generation options."""
    if not isinstance(body, dict):
        raise APIError(400, "request body: expected a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise APIError(400, "messages: expected a non-empty list of {role, content} messages; "
                            "the last one is the question", "messages")
    history: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise APIError(400, f"{where}: expected an object with role and content", where)
        role = message.get("role")
        if role not in _ROLES:
            raise APIError(400, f"{where}.role: expected one of {sorted(_ROLES)}, got {role!r}", f"{where}.role")
        history.append({"role": role, "content": _text(message.get("content"), f"{where}.content")})
    last = history.pop()
    if last["role"] != "user":
        raise APIError(400, f"messages[{len(messages) - 1}]: the last message must be the user's question "
                            f"(role 'user'), got role {last['role']!r}", "messages")
    question = last["content"].strip()
    if not question:
        raise APIError(400, f"messages[{len(messages) - 1}].content: empty question; ask something about "
                            "the documents", "messages")
    options: dict[str, Any] = {}
    temperature = body.get("temperature")
    if temperature is not None:
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
            raise APIError(400, f"temperature: expected a number from 0 to 2, got {temperature!r}", "temperature")
        options["temperature"] = float(temperature)
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise APIError(400, f"{name}: expected a positive integer, got {value!r}", name)
        options.setdefault("max_tokens", value)
    n = body.get("n")
    if n not in (None, 1):
        raise APIError(400, f"n: only one choice is generated (n=1), got {n!r}", "n")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise APIError(400, f"stream: expected true or false, got {stream!r}", "stream")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise APIError(400, f"model: expected a string, got {type(model).__name__}", "model")
    return {"question": question, "history": history, "stream": stream, "options": options}


def parse_ingest(body: Any) -> list[str]:
    if not isinstance(body, dict) or "paths" not in body:
        raise APIError(400, 'request body: expected {"paths": ["file or folder on the server", ...]} '
                            f"(formats: {' '.join(EXTENSIONS)})", "paths")
    paths = body["paths"]
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p.strip() for p in paths):
        raise APIError(400, "paths: expected a non-empty list of file or folder paths (strings) on the server",
                       "paths")
    return paths


def _report(report: IngestReport) -> dict[str, Any]:
    return {"added": report.added, "updated": report.updated, "unchanged": report.unchanged,
            "removed": report.removed, "failed": report.failed, "chunks": report.chunks,
            "errors": dict(report.errors), "summary": report.summary()}


# The app ---------------------------------------------------------------------------------------


def create_app(assistant: Any, auth_token: Optional[str] = None, model_id: Optional[str] = None) -> FastAPI:
    """The API over ``assistant`` (an ``Assistant``; it stays the caller's to close).

    With ``auth_token``, every /v1 route needs ``Authorization: Bearer <auth_token>``.
    """
    model_id = model_id or str(getattr(assistant.llm, "name", "assistant"))
    created = int(time.time())
    lock = threading.Lock()  # one request at a time uses the models (and writes the index)
    app = FastAPI(title="assistant", description="Cited answers from your documents, OpenAI-compatible.",
                  version="0.1.0", docs_url=None, redoc_url=None)

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404:
            message = f"{request.method} {request.url.path}: no such endpoint"
        elif exc.status_code == 405:
            message = f"{request.url.path}: method {request.method} not allowed"
        return JSONResponse(_error_body(message), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(_error_body(f"internal error: {type(exc).__name__}: {exc}", "server_error"),
                            status_code=500)

    def check_token(request: Request) -> None:
        if not auth_token:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise APIError(401, "missing API key: send the header 'Authorization: Bearer <token>' "
                                "(the token given to `assistant api --auth-token`)", code="invalid_api_key")
        if not hmac.compare_digest(token.strip().encode(), auth_token.encode()):
            raise APIError(401, "invalid API key", code="invalid_api_key")

    auth = [Depends(check_token)]

    async def json_body(request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw or b"null")
        except ValueError as exc:
            raise APIError(400, f"request body: not valid JSON ({exc})") from exc

    def locked(fn, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return fn(*args, **kwargs)

    def locked_stream(question: str, history: list, options: dict) -> Iterator[Any]:
        # The lock lives in the generator: closing it (end, error, client gone, or garbage
        # collection of a response never sent) releases the lock and stops the model.
        with lock:
            events = assistant.stream(question, history, **options)
            try:
                yield from events
            finally:
                events.close()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models", dependencies=auth)
    def models() -> dict[str, Any]:
        return {"object": "list",
                "data": [{"id": model_id, "object": "model", "created": created, "owned_by": "assistant"}]}

    @app.get("/v1/documents", dependencies=auth)
    async def documents() -> dict[str, Any]:
        docs = await run_in_threadpool(assistant.documents)
        return {"object": "list", "data": docs}

    @app.post("/v1/ingest", dependencies=auth,
              description=f"Index files and folders on the server's disk. Formats: {' '.join(EXTENSIONS)}")
    async def ingest(request: Request) -> dict[str, Any]:
        paths = parse_ingest(await json_body(request))
        try:
            report = await run_in_threadpool(locked, assistant.ingest, paths)
        except AssistantError as exc:
            raise APIError(400, str(exc), "paths") from exc
        return _report(report)

    @app.post("/v1/chat/completions", dependencies=auth)
    async def chat_completions(request: Request) -> Any:
        chat = parse_chat(await json_body(request))
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        now = int(time.time())
        if not chat["stream"]:
            try:
                answer: Answer = await run_in_threadpool(
                    locked, assistant.ask, chat["question"], chat["history"], **chat["options"])
            except AssistantError as exc:
                raise APIError(400, str(exc), "messages") from exc
            return {
                "id": completion_id, "object": "chat.completion", "created": now, "model": model_id,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                             "finish_reason": "stop"}],
                **_extras(answer),
            }
        events = locked_stream(chat["question"], chat["history"], chat["options"])
        try:
            # The first event (the sources) comes after the question is checked and retrieval
            # ran: a bad question still gets a 4xx rather than an error inside a 200 stream.
            first = await run_in_threadpool(next, events)
        except AssistantError as exc:
            events.close()
            raise APIError(400, str(exc), "messages") from exc
        except BaseException:
            events.close()
            raise
        return StreamingResponse(_sse(events, first, completion_id, now, model_id),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    return app


def _extras(answer: Answer) -> dict[str, Any]:
    d = answer.to_dict()
    return {"citations": d["citations"], "refused": d["refused"], "thinking": d["thinking"], "removed": d["removed"],
            "conflicts": d["conflicts"]}


def _next(events: Iterator[Any]) -> Any:
    return next(events, None)


async def _sse(events: Iterator[Any], first: Any, completion_id: str, created: int, model: str):
    def chunk(delta: dict[str, Any], finish_reason: Optional[str] = None, **extra: Any) -> str:
        body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    try:
        yield chunk({"role": "assistant", "content": ""})
        event = first
        while event is not None:
            if isinstance(event, Token):
                if event.kind == "answer":
                    yield chunk({"content": event.text})
                elif event.kind == "thinking":
                    yield chunk({"reasoning_content": event.text})
                # "reset" (what streamed as answer was thinking): sent text cannot be taken back;
                # the final chunk's "answer" and "thinking" say what it was.
            elif isinstance(event, Answer):
                # The final answer, whatever streamed: "changed" tells a client to show "answer".
                yield chunk({}, "stop", answer=event.text, changed=event.changed, withheld=event.withheld,
                            **_extras(event))
            elif not isinstance(event, Sources):
                raise TypeError(f"unexpected stream event {event!r}")
            event = await run_in_threadpool(_next, events)
        yield "data: [DONE]\n\n"
    except AssistantError as exc:
        yield f"data: {json.dumps(_error_body(str(exc), 'server_error'))}\n\n"
    except Exception as exc:  # noqa: BLE001 - the status line is sent already; say it in the stream
        yield f"data: {json.dumps(_error_body(f'internal error: {type(exc).__name__}: {exc}', 'server_error'))}\n\n"
    finally:
        # Also on a client that went away: stop the model and release the lock now.
        try:
            events.close()
        except ValueError:  # still running in a worker thread; it ends with that thread's step
            pass


# Running it -------------------------------------------------------------------------------------


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise AssistantError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another with --port")


def serve_api(settings: Any, host: str, port: int, auth_token: Optional[str] = None) -> int:
    """Build the index if it is empty, load the model, then serve until interrupted."""
    import uvicorn

    from .assistant import Assistant
    from .config import configure

    configure()
    _check_port(host, port)
    if host not in ("127.0.0.1", "localhost", "::1") and not auth_token:
        print(f"warning: serving on {host} without --auth-token: anyone who can reach it can ask, and "
              "have files on this machine indexed through /v1/ingest", file=sys.stderr)
    with Assistant(settings) as assistant:
        model_id = str(assistant.llm.name)  # load the model now: a bad one fails before we listen
        assistant.ensure_index()  # first use: index the corpus before taking requests
        app = create_app(assistant, auth_token=auth_token, model_id=model_id)
        shown = f"[{host}]" if ":" in host else host
        print(f"OpenAI-compatible API at http://{shown}:{port}/v1 (model {model_id}); Ctrl-C stops it",
              file=sys.stderr, flush=True)
        uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
    return 0
