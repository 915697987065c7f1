"""The ingest plan, decided without Chroma, an embedder or the files themselves."""

from assistant.indexing import Alias, Found, Rename, SetAliases, Unchanged, Write, gone_names, plan
from assistant.store import StoredDocument


def doc(path, sha, aliases=(), chunks=3, expected=3):
    return StoredDocument(path, path.rsplit("/", 1)[-1], sha, chunks, expected, tuple(aliases))


def found(path, sha):
    return Found(path, sha, path.rsplit("/", 1)[-1], "text")


def test_new_changed_and_unchanged_files():
    stored = {"/d/a.txt": doc("/d/a.txt", "A"), "/d/b.txt": doc("/d/b.txt", "B")}
    steps = plan(stored, [found("/d/a.txt", "A"), found("/d/b.txt", "B2"), found("/d/c.txt", "C")])
    assert steps == [Unchanged("/d/a.txt"), Write("/d/b.txt", replace=True), Write("/d/c.txt")]


def test_a_document_cut_short_by_a_crash_is_written_again():
    stored = {"/d/a.txt": doc("/d/a.txt", "A", chunks=2, expected=3)}
    assert plan(stored, [found("/d/a.txt", "A")]) == [Write("/d/a.txt", replace=True)]


def test_the_same_bytes_are_stored_once_and_named_twice():
    steps = plan({}, [found("/d/a.txt", "X"), found("/d/copy.txt", "X")])
    assert steps == [Write("/d/a.txt"), Alias("/d/copy.txt", "/d/a.txt", "copy.txt"),
                     SetAliases("/d/a.txt", (("/d/copy.txt", "copy.txt"),))]
    stored = {"/d/a.txt": doc("/d/a.txt", "X")}
    assert plan(stored, [found("/e/b.txt", "X")]) == [
        Alias("/e/b.txt", "/d/a.txt", "b.txt"), SetAliases("/d/a.txt", (("/e/b.txt", "b.txt"),))]


def test_a_changed_document_hands_its_chunks_to_another_name_first():
    stored = {"/d/a.txt": doc("/d/a.txt", "X", aliases=[("/d/gone.txt", "gone.txt"), ("/d/b.txt", "b.txt")])}
    steps = plan(stored, [found("/d/a.txt", "Y")], exists=lambda p: p != "/d/gone.txt")
    assert steps == [Rename("/d/a.txt", "/d/b.txt", "b.txt", (("/d/gone.txt", "gone.txt"),)), Write("/d/a.txt")]


def test_an_alias_whose_bytes_changed_is_no_longer_one():
    stored = {"/d/a.txt": doc("/d/a.txt", "X", aliases=[("/d/b.txt", "b.txt")])}
    steps = plan(stored, [found("/d/b.txt", "Z")])
    assert steps == [Write("/d/b.txt"), SetAliases("/d/a.txt", ())]


def test_a_changed_document_that_now_equals_another_becomes_its_alias():
    stored = {"/d/a.txt": doc("/d/a.txt", "A"), "/d/b.txt": doc("/d/b.txt", "B")}
    steps = plan(stored, [found("/d/b.txt", "A")])
    assert steps == [Alias("/d/b.txt", "/d/a.txt", "b.txt", drop_old=True),
                     SetAliases("/d/a.txt", (("/d/b.txt", "b.txt"),))]


def test_names_under_an_ingested_folder_whose_files_are_gone():
    from pathlib import Path

    d = doc("/d/a.txt", "A", aliases=[("/d/sub/b.txt", "b.txt"), ("/e/c.txt", "c.txt")])
    gone = gone_names([d], [Path("/d")], exists=lambda p: p == "/d/a.txt")
    assert gone == [(d, {"/d/sub/b.txt"})]
