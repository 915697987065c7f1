"""The test fakes are checked against the Protocols they stand in for, so a Protocol change
that the fakes miss fails here rather than passing tests on a fake that no longer fits."""

import inspect

import pytest

from assistant.embedding import Embedder, SentenceTransformerEmbedder
from assistant.engine import IsolatedLLM
from assistant.generation import LLM, Judge, LlamaCppLLM
from assistant.store import ChromaStore, VectorStore

from .fakes import HashEmbedder, JudgingLLM, ScriptedLLM


def _members(protocol) -> dict:
    names = {n for n in vars(protocol) if not n.startswith("_")} | set(getattr(protocol, "__annotations__", {}))
    return {n: getattr(protocol, n, None) for n in names}


def _check(protocol, obj) -> None:
    for name, member in _members(protocol).items():
        assert hasattr(obj, name), f"{type(obj).__name__} lacks {protocol.__name__}.{name}"
        if callable(member):
            want = list(inspect.signature(member).parameters)[1:]  # without self
            got = list(inspect.signature(getattr(obj, name)).parameters)
            assert got[: len(want)] == want, f"{type(obj).__name__}.{name}{got} does not match {want}"


@pytest.mark.parametrize("protocol, fake", [(Embedder, HashEmbedder()), (LLM, ScriptedLLM()), (LLM, JudgingLLM()),
                                            (Judge, JudgingLLM())])
def test_fakes_have_every_member_of_their_protocol(protocol, fake):
    _check(protocol, fake)


def test_the_embedder_protocol_is_checked_at_runtime_too():
    assert isinstance(HashEmbedder(), Embedder)


@pytest.mark.parametrize("protocol, real", [(Embedder, SentenceTransformerEmbedder), (LLM, LlamaCppLLM),
                                            (VectorStore, ChromaStore), (LLM, IsolatedLLM), (Judge, LlamaCppLLM),
                                            (Judge, IsolatedLLM)])
def test_the_real_backends_have_every_method_of_their_protocol(protocol, real):
    for name, member in _members(protocol).items():
        if callable(member):
            assert callable(getattr(real, name, None)), f"{real.__name__} lacks {protocol.__name__}.{name}"


def test_the_scripted_llm_stops_at_max_tokens():
    llm = ScriptedLLM("abcdefghij", piece=2)
    assert list(llm.stream([], max_tokens=3, temperature=0)) == ["ab", "cd", "ef"]
