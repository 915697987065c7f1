"""Model files: shipped ones are hash-checked, bad ones refused with the file named."""

import pytest

from assistant import models
from assistant.errors import AssistantError
from assistant.generation import LlamaCppLLM


def test_unknown_model_path_is_named(tmp_path):
    with pytest.raises(AssistantError, match="nothere.gguf"):
        models.resolve(str(tmp_path / "nothere.gguf"), tmp_path)


def test_missing_shipped_model_says_how_to_get_it(tmp_path):
    with pytest.raises(AssistantError, match="make install"):
        models.resolve("default", tmp_path)


def test_not_a_gguf_is_refused(tmp_path):
    bad = tmp_path / "notes.gguf"
    bad.write_bytes(b"PK\x03\x04" + b"\x00" * 4096)
    with pytest.raises(AssistantError, match="not a GGUF"):
        models.resolve(str(bad), tmp_path)


def test_a_shipped_model_with_the_wrong_hash_is_refused(tmp_path):
    fake = tmp_path / models.KNOWN["small"].filename
    fake.write_bytes(b"GGUF" + b"\x01" * (2 << 20))
    with pytest.raises(AssistantError, match="sha256 does not match"):
        models.resolve("small", tmp_path)
    listed = {m.alias: m.status for m in models.list_models(tmp_path)}
    assert listed == {"small": "MISMATCH", "default": "missing"}


def test_a_truncated_gguf_is_refused_by_llama_cpp_with_its_name(tmp_path):
    from .conftest import SMALL_MODEL

    cut = tmp_path / "cut.gguf"
    with open(SMALL_MODEL, "rb") as src:
        cut.write_bytes(src.read(3 << 20))
    with pytest.raises(AssistantError, match="cut.gguf"):
        LlamaCppLLM(cut)
