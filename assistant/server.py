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
before the full stop), and an answer no source supports is withheld. The final chunk sends no
more content: it carries the whole final text in ``"answer"`` with ``"citations"``,
``"refused"``, ``"thinking"``, ``"changed"`` (whether it differs from what streamed) and
``"withheld"``, so a client that wants the exact cited answer replaces the streamed text with it.

One request touches the models at a time (llama.cpp is not re-entrant): others wait their
turn. Errors use OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``; a request
body that does not fit its pydantic model (``ChatRequest``, ``IngestRequest``) is a 400 whose
message and ``param`` name the field. /openapi.json has every request and response schema and
every status a route can answer (200, 400, 401, 500).
"""

from __future__ import annotations

import hmac
import json
import socket
import sys
import threading
import time
import uuid
from typing import Any, Iterator, Literal, Optional, Union

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator
from pydantic_core import PydanticCustomError
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import AssistantError
from .readers import EXTENSIONS
from .types import Answer, IngestReport, Sources, Token

ROLES = ("system", "developer", "user", "assistant")


# Requests ----------------------------------------------------------------------------------------
# OpenAI's shapes, strict (no "yes" for true): a wrong field is a 400 naming it (see _invalid).


class TextPart(BaseModel):
    type: Literal["text"]
    text: StrictStr


class ChatMessage(BaseModel):
    """One message. Fields OpenAI clients add (``name``…) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    role: Literal[ROLES] = Field(description="system and developer messages are ignored: the assistant's "  # type: ignore[valid-type]
                                             "own rules (answer from the sources only) always apply")
    content: Union[StrictStr, list[TextPart], None] = Field(None, description="a string or text parts")

    @field_validator("content", mode="before")
    @classmethod
    def _text_parts(cls, content: Any) -> Any:
        if isinstance(content, list):
            for i, part in enumerate(content):
                if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                    raise PydanticCustomError(
                        "text_parts", f"[{i}]: only text parts ({{'type': 'text', 'text': ...}}) are supported")
        return content

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content)
        return self.content or ""


class ChatRequest(BaseModel):
    """OpenAI's chat request. The last message is the question, the earlier ones the history;
    other OpenAI fields (``top_p``…) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    messages: list[ChatMessage] = Field(min_length=1)
    model: Optional[StrictStr] = Field(None, description="ignored: the one model served answers")
    stream: StrictBool = Field(False, description="server-sent events of chat.completion.chunk objects")
    temperature: Optional[StrictFloat] = Field(None, ge=0, le=2)
    max_tokens: Optional[StrictInt] = Field(None, ge=1)
    max_completion_tokens: Optional[StrictInt] = Field(None, ge=1)
    n: Optional[Literal[1]] = Field(None, description="one choice is generated")

    def conversation(self) -> tuple[str, list[dict[str, str]]]:
        """(question, history), or an APIError when the last message is not a question."""
        history = [{"role": m.role, "content": m.text()} for m in self.messages]
        last = history.pop()
        where = f"messages[{len(self.messages) - 1}]"
        if last["role"] != "user":
            raise APIError(400, f"{where}: the last message must be the user's question (role 'user'), "
                                f"got role {last['role']!r}", "messages")
        question = last["content"].strip()
        if not question:
            raise APIError(400, f"{where}.content: empty question; ask something about the documents", "messages")
        return question, history

    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.temperature is not None:
            options["temperature"] = float(self.temperature)
        max_tokens = self.max_completion_tokens or self.max_tokens
        if max_tokens is not None:
            options["max_tokens"] = max_tokens
        return options


class IngestRequest(BaseModel):
    paths: list[StrictStr] = Field(min_length=1, description="files and folders on the server's disk")

    @field_validator("paths")
    @classmethod
    def _not_blank(cls, paths: list[str]) -> list[str]:
        if not all(p.strip() for p in paths):
            raise PydanticCustomError("blank_path", "a path is blank")
        return paths


# What a field expects, said in the 400 that names it.
_EXPECTED = {
    "messages": "expected a non-empty list of {role, content} messages; the last one is the question",
    "role": f"expected one of {sorted(ROLES)}",
    "content": "expected a string or a list of text parts ({'type': 'text', 'text': ...})",
    "temperature": "expected a number from 0 to 2",
    "max_tokens": "expected a positive integer",
    "max_completion_tokens": "expected a positive integer",
    "stream": "expected true or false",
    "n": "only one choice is generated (n=1)",
    "model": "expected a string",
    "paths": "expected a non-empty list of file or folder paths (strings) on the server",
}


def _invalid(error: dict[str, Any], ingest: bool) -> APIError:
    """The first validation error of a request as a 400 that names the field."""
    loc = [part for part in error.get("loc", ()) if part != "body"]
    if error.get("type") == "json_invalid":
        return APIError(400, f"request body: not valid JSON ({error.get('ctx', {}).get('error', error['msg'])})")
    if not loc and isinstance(error.get("input"), bytes):
        # No JSON Content-Type: refused, so that a web page cannot post here from a browser (a
        # "simple" cross-site request carries text/plain or a form, or no type at all).
        return APIError(400, "request body: expected JSON, with the header 'Content-Type: application/json'")
    # The innermost field this module knows what to expect of (union members' names dropped).
    fields = [i for i, part in enumerate(loc) if part in _EXPECTED or part in ("type", "text")]
    if not fields:
        if ingest:
            return APIError(400, 'request body: expected {"paths": ["file or folder on the server", ...]} '
                                 f"(formats: {' '.join(EXTENSIONS)})", "paths")
        return APIError(400, "request body: expected a JSON object with messages", None)
    end = next(i for i in reversed(fields) if loc[i] in _EXPECTED)
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[: end + 1]).lstrip(".")
    if error.get("type") in ("text_parts", "blank_path"):
        return APIError(400, f"{where}{error['msg']}" if error["msg"].startswith("[") else f"{where}: {error['msg']}",
                        where)
    got = repr(error.get("input"))
    got = got if len(got) <= 60 else got[:57] + "..."
    message = f"{where}: {_EXPECTED[loc[end]]}"
    if error.get("type") != "missing" and loc[end] != "messages":
        message += f", got {got}"
    return APIError(400, message, where)


# Responses ---------------------------------------------------------------------------------------
# Declared so /openapi.json has every shape; extra="allow": fields added later are not dropped.


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: Optional[str] = None
    code: Optional[str] = None


class ErrorResponse(BaseModel):
    """OpenAI's error shape."""

    error: ErrorDetail


class ShownOut(BaseModel):
    text: str
    start: int = Field(description="offset of the sentence in the file's text")
    end: int


class CitationOut(_Open):
    n: int
    source: str
    text: str
    start: int
    end: int
    location: Optional[str] = Field(None, description="'page 2', 'slide 3'… where the format has units")
    head: Optional[str] = Field(
        None, description="its document's opening lines (title, byline), when the passage does not hold them")
    shown: Optional[list[ShownOut]] = Field(
        None, description="the sentences of the passage the model read, when it read only some (select_sentences)")


class RemovedOut(BaseModel):
    sentence: str
    reason: str


class ConflictOut(_Open):
    value: str
    source: str
    passage: str
    n: int


class AnswerExtras(_Open):
    """Beside OpenAI's fields: what the answer cites and what the checks did."""

    citations: list[CitationOut]
    refused: bool
    thinking: str
    removed: list[RemovedOut] = Field(description="answer sentences removed as unsupported, with the reason")
    conflicts: list[ConflictOut] = Field(description="values the sources disagree on")


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop"]


class ChatCompletion(AnswerExtras):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]


class Delta(_Open):
    role: Optional[Literal["assistant"]] = None
    content: Optional[str] = None
    reasoning_content: Optional[str] = None


class ChunkChoice(BaseModel):
    index: int
    delta: Delta
    finish_reason: Optional[Literal["stop"]] = None


class ChatCompletionChunk(_Open):
    """One server-sent event (``data: {...}``); the stream ends with ``data: [DONE]``. The last chunk
    also has the fields of ``AnswerExtras`` and ``answer`` (the final text), ``changed`` (it differs
    from what streamed: show ``answer``) and ``withheld``."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class DocumentOut(_Open):
    source: str
    path: str
    chunks: int
    sha256: str
    same_as: Optional[list[str]] = Field(None, description="other names of a file stored once")


class DocumentList(BaseModel):
    object: Literal["list"]
    data: list[DocumentOut]


class IngestResponse(BaseModel):
    added: int
    updated: int
    unchanged: int
    removed: int
    failed: int
    chunks: int
    errors: dict[str, str] = Field(description="file -> the reason it was not indexed")
    summary: str


class Health(BaseModel):
    status: Literal["ok"]


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


_ERRORS: dict[Union[int, str], dict[str, Any]] = {
    500: {"model": ErrorResponse, "description": "an internal error"}}
_AUTH = {401: {"model": ErrorResponse, "description": "no or a wrong token (with `--auth-token`)"}}
_BAD = {400: {"model": ErrorResponse, "description": "a bad request; the message names the field"}}
_STREAM = {200: {"content": {"text/event-stream": {"schema": {
    "type": "string", "description": "with stream=true: server-sent events, each `data: <ChatCompletionChunk>` "
                                     "(#/components/schemas/ChatCompletionChunk), then `data: [DONE]`"}}}}}


def _report(report: IngestReport) -> dict[str, Any]:
    return {"added": report.added, "updated": report.updated, "unchanged": report.unchanged,
            "removed": report.removed, "failed": report.failed, "chunks": report.chunks,
            "errors": dict(report.errors), "summary": report.summary()}


def _extras(answer: Answer) -> dict[str, Any]:
    d = answer.to_dict()
    return {"citations": d["citations"], "refused": d["refused"], "thinking": d["thinking"], "removed": d["removed"],
            "conflicts": d["conflicts"]}


def _completion(answer: Answer, completion_id: str, created: int, model: str) -> dict[str, Any]:
    return {"id": completion_id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                         "finish_reason": "stop"}],
            **_extras(answer)}


# The app ---------------------------------------------------------------------------------------


def _handle_errors(app: FastAPI) -> None:
    """Every error in OpenAI's shape; a request that does not validate is a 400 naming the field."""

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors()) or [{}]
        return _invalid(errors[0], ingest=request.url.path.endswith("/ingest")).response()

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


def _openapi(app: FastAPI) -> None:
    """/openapi.json as served: FastAPI documents a 422 for every body, but a bad body is a 400 here
    (``_BAD``), so the 422 goes; the stream's chunk is added to the schemas."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()  # and kept as app.openapi_schema
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            chunk = ChatCompletionChunk.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(chunk.pop("$defs", {}))
            schemas["ChatCompletionChunk"] = chunk
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _token_check(auth_token: Optional[str]):
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

    return check_token


class _Models:
    """The assistant behind a lock: one request at a time uses the models (and writes the index)."""

    def __init__(self, assistant: Any) -> None:
        self.assistant = assistant
        self.lock = threading.Lock()

    def call(self, fn, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return fn(*args, **kwargs)

    def stream(self, question: str, history: list, options: dict) -> Iterator[Any]:
        # The lock lives in the generator: closing it (end, error, client gone, or garbage
        # collection of a response never sent) releases the lock and stops the model.
        with self.lock:
            events = self.assistant.stream(question, history, **options)
            try:
                yield from events
            finally:
                events.close()


def create_app(assistant: Any, auth_token: Optional[str] = None, model_id: Optional[str] = None) -> FastAPI:
    """The API over ``assistant`` (an ``Assistant``; it stays the caller's to close).

    With ``auth_token``, every /v1 route needs ``Authorization: Bearer <auth_token>``.
    """
    model_id = model_id or str(getattr(assistant.llm, "name", "assistant"))
    created = int(time.time())
    models = _Models(assistant)
    app = FastAPI(title="assistant", description="Cited answers from your documents, OpenAI-compatible.",
                  version="0.1.0", docs_url=None, redoc_url=None)
    _handle_errors(app)
    _openapi(app)
    v1 = dict(dependencies=[Depends(_token_check(auth_token))], responses={**_AUTH, **_ERRORS})

    @app.get("/health", response_model=Health, responses=_ERRORS)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models", response_model=ModelList, **v1)
    def list_models() -> dict[str, Any]:
        return {"object": "list",
                "data": [{"id": model_id, "object": "model", "created": created, "owned_by": "assistant"}]}

    @app.get("/v1/documents", response_model=DocumentList, response_model_exclude_none=True, **v1)
    async def documents() -> dict[str, Any]:
        return {"object": "list", "data": await run_in_threadpool(assistant.documents)}

    @app.post("/v1/ingest", response_model=IngestResponse, **{**v1, "responses": {**_BAD, **v1["responses"]}},
              description=f"Index files and folders on the server's disk. Formats: {' '.join(EXTENSIONS)}")
    async def ingest(body: IngestRequest) -> dict[str, Any]:
        try:
            report = await run_in_threadpool(models.call, assistant.ingest, body.paths)
        except AssistantError as exc:
            raise APIError(400, str(exc), "paths") from exc
        return _report(report)

    @app.post("/v1/chat/completions", response_model=ChatCompletion, response_model_exclude_none=True,
              **{**v1, "responses": {**_STREAM, **_BAD, **v1["responses"]}})
    async def chat_completions(body: ChatRequest) -> Any:
        question, history = body.conversation()
        completion_id, now = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if not body.stream:
            try:
                answer = await run_in_threadpool(models.call, assistant.ask, question, history, **body.options())
            except AssistantError as exc:
                raise APIError(400, str(exc), "messages") from exc
            return _completion(answer, completion_id, now, model_id)
        events = models.stream(question, history, body.options())
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
        return EventSourceResponse(_sse(events, first, completion_id, now, model_id), sep="\n",
                                   headers={"Cache-Control": "no-cache"})

    return app


def _next(events: Iterator[Any]) -> Any:
    return next(events, None)


async def _sse(events: Iterator[Any], first: Any, completion_id: str, created: int, model: str):
    """The events of a streamed answer (for EventSourceResponse: each a ``data:`` line)."""
    def chunk(delta: dict[str, Any], finish_reason: Optional[str] = None, **extra: Any) -> dict[str, str]:
        body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}], **extra}
        return {"data": json.dumps(body, ensure_ascii=False)}

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
        yield {"data": "[DONE]"}
    except AssistantError as exc:
        yield {"data": json.dumps(_error_body(str(exc), "server_error"))}
    except Exception as exc:  # noqa: BLE001 - the status line is sent already; say it in the stream
        yield {"data": json.dumps(_error_body(f"internal error: {type(exc).__name__}: {exc}", "server_error"))}
    finally:
        # Also on a client that went away: stop the model and release the lock now.
        try:
            events.close()
        except ValueError:  # still running in a worker thread; it ends with that thread's step
            pass


# Running it -------------------------------------------------------------------------------------


def check_port(host: str, port: int) -> None:
    """Fail in a line, before loading any model, when the address is taken or invalid
    (`assistant api` and `assistant serve`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise AssistantError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                                 "choose another with --port or --host") from exc


def serve_api(settings: Any, host: str, port: int, auth_token: Optional[str] = None) -> int:
    """Build the index if it is empty, load the model, then serve until interrupted."""
    import uvicorn

    from .assistant import Assistant
    from .config import configure

    configure()
    check_port(host, port)
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
