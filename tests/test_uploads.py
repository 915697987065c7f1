"""The upload transaction (assistant/uploads.py), without Gradio: files are copied into the upload
folder under safe names, ingested, and the folder keeps only what was indexed."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import AssistantError
from assistant.readers import EXTENSIONS
from assistant.types import IngestReport
from assistant.uploads import safe_filename, upload


@pytest.mark.parametrize(
    "raw, safe",
    [
        ("../../etc/passwd.md", "passwd.md"),
        ("..\\..\\windows\\evil.txt", "evil.txt"),
        ("/abs/path/notes.md", "notes.md"),
        ("..", "upload"),
        (".bashrc.md", "bashrc.md"),
        ("a..b.md", "a.b.md"),
        ("résumé (final).pdf", "résumé _final_.pdf"),
        ("x" * 300 + ".md", "x" * 117 + ".md"),
        ("", "upload"),
    ],
)
def test_upload_names_cannot_leave_the_upload_folder(raw, safe):
    assert safe_filename(raw) == safe


class Ingest:
    """Stands in for Assistant.ingest: records the paths and the bytes it found; fails the files
    whose text says FAIL (in the report) or raises for BOOM."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.seen: dict[str, str] = {}

    def __call__(self, paths: list[str]) -> IngestReport:
        self.calls.append(paths)
        report = IngestReport()
        for p in paths:
            text = Path(p).read_text()
            self.seen[p] = text
            if "BOOM" in text:
                raise AssistantError("index: locked by another process")
            if "FAIL" in text:
                report.errors[p] = f"{Path(p).name}: no text in it"
                report.failed += 1
            else:
                report.added += 1
        return report


def files(tmp_path: Path, **contents: str) -> list[str]:
    """Files as the browser hands them over, in a folder of their own (names: '_' for '.')."""
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    out = []
    for name, text in contents.items():
        path = inbox / name.replace("_", ".")
        path.write_text(text)
        out.append(str(path))
    return out


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_supported_files_are_saved_and_ingested_the_rest_refused(tmp_path):
    folder, ingest = tmp_path / "uploads", Ingest()
    big = tmp_path / "inbox" / "big.txt"
    sent = files(tmp_path, notes_md="Blue room.", tool_exe="MZ") + [{"path": str(tmp_path / "inbox" / "notes.md")}]
    big.write_text("x" * 2000)
    done = upload(sent + [str(big)], folder, ingest, max_file_mb=0.001)
    assert done.saved == [str(folder / "notes.md")] == done.indexed and ingest.calls == [done.saved]
    assert done.refused == [
        "tool.exe: not a supported type; upload " + " ".join(EXTENSIONS),
        "notes.md: refused (the name leads outside the upload folder or repeats)",
        "big.txt: over the 0.001 MB limit (max_file_mb)",
    ]
    assert (folder / "notes.md").read_text() == "Blue room." and leftovers(folder) == []


def test_a_file_that_fails_goes_and_the_one_it_replaced_comes_back(tmp_path):
    folder, ingest = tmp_path / "uploads", Ingest()
    upload(files(tmp_path, a_md="First a.", b_md="First b."), folder, ingest, max_file_mb=1)
    done = upload(files(tmp_path, a_md="FAIL", b_md="Second b.", c_md="FAIL"), folder, ingest, max_file_mb=1)
    assert done.failed == {str(folder / "a.md"), str(folder / "c.md")} and done.indexed == [str(folder / "b.md")]
    assert ingest.seen[str(folder / "a.md")] == "FAIL"  # the new bytes were what got ingested
    assert (folder / "a.md").read_text() == "First a."  # restored
    assert (folder / "b.md").read_text() == "Second b."  # replaced: indexed
    assert not (folder / "c.md").exists() and leftovers(folder) == []


def test_an_ingest_that_fails_as_a_whole_keeps_nothing_new(tmp_path):
    folder, ingest = tmp_path / "uploads", Ingest()
    upload(files(tmp_path, a_md="First a."), folder, ingest, max_file_mb=1)
    done = upload(files(tmp_path, a_md="Second a.", b_md="BOOM"), folder, ingest, max_file_mb=1)
    assert done.error == "index: locked by another process" and done.report is None
    assert done.failed == set(done.saved) and done.indexed == []
    assert (folder / "a.md").read_text() == "First a." and not (folder / "b.md").exists()
    assert leftovers(folder) == []


def test_an_unexpected_error_rolls_back_and_is_raised(tmp_path):
    folder = tmp_path / "uploads"
    upload(files(tmp_path, a_md="First a."), folder, Ingest(), max_file_mb=1)

    def broken(paths):
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        upload(files(tmp_path, a_md="Second a.", b_md="New b."), folder, broken, max_file_mb=1)
    assert (folder / "a.md").read_text() == "First a." and not (folder / "b.md").exists()
    assert leftovers(folder) == []


def test_a_symlink_planted_in_the_folder_is_never_followed(tmp_path):
    folder, ingest = tmp_path / "uploads", Ingest()
    folder.mkdir()
    target = tmp_path / "precious.md"
    target.write_text("Do not overwrite.")
    (folder / "a.md").symlink_to(target)
    done = upload(files(tmp_path, a_md="Uploaded a."), folder, ingest, max_file_mb=1)
    assert done.saved == [] and done.refused == ["a.md: refused (the name leads outside the upload folder or repeats)"]
    assert target.read_text() == "Do not overwrite." and ingest.calls == []


def test_saving_is_reported_file_by_file(tmp_path):
    seen = []
    upload(files(tmp_path, a_md="A.", b_txt="B."), tmp_path / "uploads", Ingest(), max_file_mb=1,
           saving=lambda i, n, name: seen.append((i, n, name)))
    assert seen == [(0, 2, "a.md"), (1, 2, "b.txt")]
