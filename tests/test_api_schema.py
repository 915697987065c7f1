"""The API against its own /openapi.json: schemathesis sends generated requests, valid and not, to
`create_app` served by uvicorn on loopback (an Assistant on the fakes: fast). No answer may be a
5xx, and every status, body and content type must be the documented ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from assistant import Assistant
from assistant.server import create_app

from .fakes import HashEmbedder, ScriptedLLM, serving

class Confined(Assistant):
    """Ingests only inside ``sandbox``: generated paths ("/", "..") must not index this machine."""

    sandbox: Path

    def ingest(self, paths, progress=None):
        inside = []
        for p in paths:
            path = (self.sandbox / p.lstrip("/")).resolve() if "\x00" not in p else self.sandbox / "nul"
            inside.append(str(path if path.is_relative_to(self.sandbox) else self.sandbox / "outside"))
        return super().ingest(inside, progress)


@pytest.fixture
def api_url(settings, tmp_path):
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    (sandbox / "memo.md").write_text("# Memo\n\nThe blue room hosts the quarterly meeting.\n")
    with Confined(settings, embedder=HashEmbedder(), llm=ScriptedLLM("Singer is at the Carnegie Endowment [1].")) as a:
        a.sandbox = sandbox.resolve()
        with serving(create_app(a)) as url:
            yield url


# What is checked: no 5xx; a status, content type and body the schema documents for the operation.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_answers_as_documented(api_url, mode):
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /v1/chat/completions", "POST /v1/ingest", "GET /v1/documents"}
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not len(operation.body):  # nothing to get wrong
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(max_examples=30, deadline=None, database=None, derandomize=True,
                             suppress_health_check=list(HealthCheck))
        def answers_as_documented(case):
            case.call_and_validate(base_url=api_url, checks=CHECKS, timeout=30)

        answers_as_documented()


def test_the_schema_names_every_error_status(api_url):
    """The fuzzer's 500: a role that is an object. Now a 400 naming the field, documented."""
    import httpx

    reply = httpx.post(f"{api_url}/v1/chat/completions", json={"messages": [{"role": {}, "content": ""}]})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "messages[0].role"
    assert reply.json()["error"]["message"].startswith("messages[0].role: expected one of")
    spec = httpx.get(f"{api_url}/openapi.json").json()
    chat = spec["paths"]["/v1/chat/completions"]["post"]
    assert set(chat["responses"]) == {"200", "400", "401", "500"}
    assert set(chat["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    assert chat["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ChatRequest")
    assert {"ChatCompletion", "ChatCompletionChunk", "ErrorResponse", "IngestRequest"} <= set(
        spec["components"]["schemas"])
