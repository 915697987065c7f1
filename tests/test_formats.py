"""Every format ingestion reads: small real files, built here with each format's own library
(python-docx, python-pptx, openpyxl, EbookLib, odfpy; the standard library for CSV, e-mail,
JSON and notebooks; msoffcrypto-tool to password-protect Office files). No binary fixtures."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from assistant import Assistant, AssistantError, Settings, documents, readers
from assistant.chunking import chunk_document

from .conftest import pdf_pages
from .fakes import HashEmbedder, ScriptedLLM

COUNT = HashEmbedder().count_tokens


# Builders: one small real file per format ----------------------------------------------------------


def make_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.add_heading("Harbour report", 1)
    d.add_paragraph("The harbour master is Ingrid Tollefsen.")
    table = d.add_table(rows=2, cols=2)
    for (r, c), value in {(0, 0): "Ship", (0, 1): "Berth", (1, 0): "Aurora", (1, 1): "B7"}.items():
        table.cell(r, c).text = value
    d.add_paragraph("The north pier reopens in May.")
    d.save(path)
    return path


def make_pptx(path: Path, slides: list[tuple[str, str]] | None = None, notes: str = "") -> Path:
    import pptx

    deck = pptx.Presentation()
    if slides is None:
        slides = [("Kickoff", "Welcome to the project."), ("Team", "Six engineers and one cat."),
                  ("Budget", "The budget for the lighthouse project is 42,000 kroner.")]
    for title, body in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    if notes:
        deck.slides[-1].notes_slide.notes_text_frame.text = notes
    deck.save(path)
    return path


def make_empty_pptx(path: Path) -> Path:
    import pptx

    deck = pptx.Presentation()
    for _ in range(2):
        deck.slides.add_slide(deck.slide_layouts[6])  # the blank layout: no placeholders, no text
    deck.save(path)
    return path


def make_xlsx(path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    revenue = book.active
    revenue.title = "Revenue"
    revenue.append(["Region", "Q1", "Q2"])
    revenue.append(["North", 120, 135.5])
    revenue.append(["South", 80, 95])
    costs = book.create_sheet("Costs")
    costs.append(["Item", "Amount"])
    costs.append(["Rent of the Vardø office", 5200])
    book.create_sheet("Empty")
    book.save(path)
    return path


def make_blank_xlsx(path: Path) -> Path:
    import openpyxl

    openpyxl.Workbook().save(path)
    return path


def make_csv(path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["species", "count", "site"])
        w.writerow(["puffin", "312", "Hornøya"])
        w.writerow(["kittiwake", "1040", "Ekkerøy"])
    return path


def make_epub(path: Path) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("lighthouse-1")
    book.set_title("The Lighthouse")
    book.set_language("en")
    one = epub.EpubHtml(title="Arrival", file_name="one.xhtml", lang="en")
    one.content = "<html><body><h1>Arrival</h1><p>The keeper of the lighthouse is Ada Brekke.</p></body></html>"
    two = epub.EpubHtml(title="Storm", file_name="two.xhtml", lang="en")
    two.content = "<html><body><h1>Storm</h1><p>The lamp burns whale oil until 1911.</p></body></html>"
    for chapter in (one, two):
        book.add_item(chapter)
    book.toc = (one, two)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", one, two]
    epub.write_epub(str(path), book)
    return path


def make_odt(path: Path) -> Path:
    from odf import table, text
    from odf.opendocument import OpenDocumentText

    doc = OpenDocumentText()
    doc.text.addElement(text.H(outlinelevel=1, text="Board minutes"))
    doc.text.addElement(text.P(text="The board approved the new ferry timetable."))
    items = text.List()
    item = text.ListItem()
    item.addElement(text.P(text="Ferries leave Tromsø at 07:15."))
    items.addElement(item)
    doc.text.addElement(items)
    grid = table.Table(name="Votes")
    grid.addElement(table.TableColumn(numbercolumnsrepeated=2))
    row = table.TableRow()
    for value in ("For", "7"):
        cell = table.TableCell()
        cell.addElement(text.P(text=value))
        row.addElement(cell)
    grid.addElement(row)
    doc.text.addElement(grid)
    doc.save(str(path))
    return path


def make_eml(path: Path) -> Path:
    msg = EmailMessage()
    msg["Subject"] = "Dock inspection moved"
    msg["From"] = "Ola Nordmann <ola@example.org>"
    msg["To"] = "crew@example.org"
    msg["Date"] = "Tue, 04 Mar 2025 09:30:00 +0100"
    msg.set_content("Hi all,\n\nThe dock inspection moved to Thursday at 14:00.\n\nOla\n")
    msg.add_alternative("<p>The dock inspection moved to <b>Thursday</b> at 14:00.</p>", subtype="html")
    msg.add_attachment(b"%PDF-1.4 ...", maintype="application", subtype="pdf", filename="schedule.pdf")
    path.write_bytes(bytes(msg))
    return path


def make_json(path: Path) -> Path:
    path.write_text(json.dumps({"project": "Beacon", "owner": {"name": "Sigrid Vik", "team": "Ops"},
                                "milestones": [{"name": "design", "done": True}, {"name": "launch", "due": "2025-09-01"}],
                                "notes": None}, indent=2))
    return path


def make_ipynb(path: Path) -> Path:
    notebook = {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Tide analysis\n", "We fit the tide gauge data."]},
            {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "print(max_tide)",
             "outputs": [{"output_type": "stream", "name": "stdout", "text": ["The highest tide was 3.2 metres\n"]}]},
            {"cell_type": "code", "metadata": {}, "execution_count": 2, "source": [], "outputs": []},
            {"cell_type": "markdown", "metadata": {}, "source": "The gauge sits at Honningsvåg."},
        ],
    }
    path.write_text(json.dumps(notebook))
    return path


def make_pdf(path: Path) -> Path:
    path.write_bytes(pdf_pages("The survey covers three fjords.", "The deepest fjord is 1308 metres deep."))
    return path


def encrypted(office_file: Path, out: Path) -> Path:
    """The Office file, password-protected as Office does it (an encrypted package in a Compound File)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    with open(office_file, "rb") as f, open(out, "wb") as o:
        OOXMLFile(f).encrypt("hunter2", o)
    return out


BUILDERS = {
    "report.docx": make_docx, "deck.pptx": make_pptx, "figures.xlsx": make_xlsx, "birds.csv": make_csv,
    "novel.epub": make_epub, "minutes.odt": make_odt, "inspection.eml": make_eml, "project.json": make_json,
    "tides.ipynb": make_ipynb, "survey.pdf": make_pdf,
}


def every_format(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, build in BUILDERS.items():
        build(folder / name)
    (folder / "notes.markdown").write_text("# Notes\n\nThe spare key is under the blue bucket.\n")
    return folder


# What each reader extracts ------------------------------------------------------------------------

EXPECTED = {
    # name: (lines the text holds, unit labels in order)
    "report.docx": (["Harbour report", "The harbour master is Ingrid Tollefsen.", "Ship | Berth", "Aurora | B7",
                     "The north pier reopens in May."], []),
    "deck.pptx": (["Kickoff", "Six engineers and one cat.", "The budget for the lighthouse project is 42,000 kroner."],
                  ["slide 1", "slide 2", "slide 3"]),
    "figures.xlsx": (["Sheet: Revenue", "Region | Q1 | Q2", "Region: North; Q1: 120; Q2: 135.5",
                      "Sheet: Costs", "Item: Rent of the Vardø office; Amount: 5200"], ["sheet Revenue", "sheet Costs"]),
    "birds.csv": (["species | count | site", "species: puffin; count: 312; site: Hornøya"], ["row 1", "row 2", "row 3"]),
    "novel.epub": (["Arrival", "The keeper of the lighthouse is Ada Brekke.", "The lamp burns whale oil until 1911."],
                   ["section 1", "section 2"]),
    "minutes.odt": (["Board minutes", "The board approved the new ferry timetable.", "Ferries leave Tromsø at 07:15.",
                     "For | 7"], []),
    "inspection.eml": (["Subject: Dock inspection moved", "From: Ola Nordmann <ola@example.org>",
                        "The dock inspection moved to Thursday at 14:00.", "Attachments: schedule.pdf"], []),
    "project.json": (["project: Beacon", "owner.name: Sigrid Vik", "milestones[0].done: true",
                      "milestones[1].due: 2025-09-01"], []),
    "tides.ipynb": (["# Tide analysis", "print(max_tide)", "The highest tide was 3.2 metres",
                     "The gauge sits at Honningsvåg."], ["cell 1", "cell 2", "cell 4"]),
    "survey.pdf": (["The survey covers three fjords.", "The deepest fjord is 1308 metres deep."], ["page 1", "page 2"]),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_each_format_is_read_into_text_and_its_units(tmp_path, name):
    doc = documents.load(BUILDERS[name](tmp_path / name))
    lines, units = EXPECTED[name]
    text_lines = doc.text.splitlines()
    for line in lines:
        assert line in text_lines, (line, doc.text)
    assert [label for _, label in doc.units] == units
    for offset, _ in doc.units:  # a unit starts at the start of its text
        assert 0 <= offset < len(doc.text) and (offset == 0 or doc.text[offset - 1] == "\n")
    assert doc.blocks


def test_notes_and_tables_of_a_slide_are_read_and_metadata_is_not(tmp_path):
    doc = documents.load(make_pptx(tmp_path / "d.pptx", [("Plan", "Step one.")], notes="Say the date: 4 May."))
    assert doc.text == "Plan\nStep one.\nNotes: Say the date: 4 May."
    json_doc = documents.load(make_json(tmp_path / "p.json"))
    assert "notes" not in json_doc.text  # null values carry nothing


def test_chunks_carry_the_unit_they_lie_in_and_offsets_into_the_extracted_text(tmp_path):
    deck = documents.load(make_pptx(tmp_path / "deck.pptx"))
    chunks = chunk_document(deck, COUNT, max_tokens=12, overlap=0)
    budget = next(c for c in chunks if "42,000" in c.text)
    assert budget.location == "slide 3"
    assert " ".join(deck.text[budget.start : budget.end].split()) == budget.text
    # Pages, slides, sheets, sections and cells are never mixed in one chunk, however short.
    pdf = documents.load(make_pdf(tmp_path / "s.pdf"))
    assert [c.location for c in chunk_document(pdf, COUNT, max_tokens=200, overlap=1)] == ["page 1", "page 2"]
    # Rows are: a chunk holds many and says which.
    table = documents.load(make_csv(tmp_path / "b.csv"))
    assert [c.location for c in chunk_document(table, COUNT, max_tokens=200)] == ["rows 1–3"]
    assert [c.location for c in chunk_document(table, COUNT, max_tokens=12, overlap=0)] == ["row 1", "row 2", "row 3"]
    plain = documents.load(make_docx(tmp_path / "r.docx"))
    assert {c.location for c in chunk_document(plain, COUNT, max_tokens=30)} == {""}


def test_kind_names_the_reader():
    assert [documents.kind(f"a{ext}") for ext in (".docx", ".XLSX", ".markdown", ".htm", ".pdf", ".tsv", ".xyz")] == [
        "docx", "xlsx", "text", "html", "pdf", "csv", "text"]


def test_location_names_one_unit_or_a_range():
    units = ((0, "page 1"), (10, "page 2"), (20, "page 3"))
    assert readers.location(units, 0, 5) == "page 1"
    assert readers.location(units, 12, 20) == "page 2"  # ends right where page 3 starts
    assert readers.location(units, 5, 25) == "pages 1–3"
    assert readers.location(((5, "cell 1"), (9, "cell 2")), 0, 3) == "cell 1"  # text before the first unit
    assert readers.location(((0, "sheet Q1 Revenue"), (9, "sheet Costs")), 0, 12) == "sheets Q1 Revenue–Costs"
    assert readers.location((), 0, 5) == ""


# Bad files: one line naming the file ----------------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for member, data in members.items():
            z.writestr(member, data)
    return path


BAD = {
    # name: (how to make it, what the message says)
    "garbage.docx": (lambda p: p.write_bytes(b"PK\x03\x04" + os.urandom(3000)), "malformed DOCX"),
    "zip-of-junk.docx": (lambda p: _zip(p, {"word/document.xml": b"<w:document"}), "malformed DOCX"),
    "not-a-deck.pptx": (lambda p: make_docx(p), "malformed PPTX"),
    "garbage.xlsx": (lambda p: _zip(p, {"xl/workbook.xml": os.urandom(500)}), "malformed XLSX"),
    "garbage.epub": (lambda p: p.write_bytes(os.urandom(2000)), "malformed EPUB"),
    "garbage.odt": (lambda p: _zip(p, {"content.xml": b"<office:document-content"}), "malformed ODT"),
    "locked.docx": (lambda p: encrypted(make_docx(p.with_suffix(".src")), p), "encrypted DOCX, a password is needed"),
    "locked.pptx": (lambda p: encrypted(make_pptx(p.with_suffix(".src")), p), "encrypted PPTX, a password is needed"),
    "locked.xlsx": (lambda p: encrypted(make_xlsx(p.with_suffix(".src")), p), "encrypted XLSX, a password is needed"),
    "old-word.docx": (lambda p: p.write_bytes(readers._OLE + bytes(4088)), "an old binary Office file"),
    "pictures.pptx": (make_empty_pptx, "no text to index (a deck of 2 slides with no text"),
    "blank.xlsx": (lambda p: make_blank_xlsx(p), "no text to index"),
    "broken.json": (lambda p: p.write_text('{"a": [1, 2'), "malformed JSON"),
    "deep.json": (lambda p: p.write_text("[" * 100_000 + "]" * 100_000), "JSON"),
    "not-a-notebook.ipynb": (lambda p: p.write_text('{"cells": 3}'), "not a Jupyter notebook"),
    "binary.csv": (lambda p: p.write_bytes(bytes(range(256)) * 10), "binary"),
    "no-headers.eml": (lambda p: p.write_text("just some words\nand more\n"), "not an e-mail message"),
    "locked.odt": (lambda p: _zip(p, {"mimetype": b"application/vnd.oasis.opendocument.text",
                                      "content.xml": os.urandom(300),
                                      "META-INF/manifest.xml": b'<manifest:file-entry manifest:full-path="content.xml">'
                                                               b"<manifest:encryption-data/></manifest:file-entry>"}),
                   "encrypted ODT"),
    "drm.epub": (lambda p: _zip(p, {"mimetype": b"application/epub+zip",
                                    "META-INF/encryption.xml": b'<encryption><EncryptedData><CipherData>'
                                                               b'<CipherReference URI="OEBPS/ch1.xhtml"/>'
                                                               b"</CipherData></EncryptedData></encryption>"}),
                 "encrypted EPUB (DRM)"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_file_of_each_format_gets_one_line_naming_it(tmp_path, name):
    make, message = BAD[name]
    path = tmp_path / name
    make(path)
    with pytest.raises(AssistantError) as err:
        documents.load(path)
    text = str(err.value)
    assert name in text and message in text, text
    assert "\n" not in text and len(text) < 400


def test_a_zip_bomb_is_refused_before_any_library_unpacks_it(tmp_path, monkeypatch):
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z, z.open("word/document.xml", "w") as member:
        for _ in range(120):
            member.write(bytes(1_000_000))  # 120 MB of zeros, about 120 kB packed
    monkeypatch.setattr("docx.Document", lambda *a: pytest.fail("python-docx was called"))
    with pytest.raises(AssistantError, match=r"bomb\.docx: DOCX would unpack to 120 MB .* \(a zip bomb\?\); refused"):
        documents.load(path)


def test_a_200_mb_spreadsheet_is_refused_from_its_size_before_it_is_parsed(tmp_path, monkeypatch):
    big = tmp_path / "huge.xlsx"
    with open(big, "wb") as f:  # sparse: 200 MB on paper, nothing on disk
        f.truncate(200_000_000)
    monkeypatch.setitem(readers.READERS, ".xlsx", lambda data, name: pytest.fail("the reader was called"))
    with pytest.raises(AssistantError, match=r"huge\.xlsx: file is 200 MB, over the 50 MB limit \(max_file_mb\)"):
        documents.load(big, max_bytes=50_000_000)
    small = make_xlsx(tmp_path / "small.xlsx")  # and the setting applies to a real one too
    with pytest.raises(AssistantError, match="over the 0 MB limit"):
        documents.load(small, max_bytes=1000)


# The one list of formats ---------------------------------------------------------------------------


def test_every_format_is_listed_in_one_place_and_everyone_shows_it():
    extensions = readers.EXTENSIONS
    for ext in (".txt", ".md", ".markdown", ".html", ".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".epub", ".odt",
                ".eml", ".json", ".ipynb"):
        assert ext in extensions
    assert documents.SUFFIXES == set(extensions)
    from assistant import cli, server

    assert " ".join(extensions) in " ".join(cli.build_parser().format_help().split())  # `assistant --help`
    app = server.create_app(type("FakeAssistant", (), {"llm": ScriptedLLM()})())
    route = next(r for r in app.routes if getattr(r, "path", "") == "/v1/ingest")
    assert " ".join(extensions) in route.description


def test_the_page_takes_every_format_markdown_included_and_its_answers_say_where(make_assistant, tmp_path):
    from gradio_client import handle_file

    from .conftest import client, running

    a = make_assistant("The budget for the lighthouse project is 42,000 kroner [1].")
    deck = make_pptx(tmp_path / "deck.pptx")
    notes = tmp_path / "notes.markdown"
    notes.write_text("# Notes\n\nThe spare key is under the blue bucket.\n")
    other = tmp_path / "tool.exe"
    other.write_bytes(b"MZ\x00\x01")
    with running(a) as (url, demo):
        # The box lists the formats. Gradio's own file_types filter is left unset: it refuses a whole
        # batch with one unsupported file in it, where the page names that file and indexes the rest.
        upload = next(b for b in demo.demo.blocks.values() if getattr(b, "elem_id", None) == "upload")
        assert " ".join(readers.EXTENSIONS) in upload.label
        c = client(url)
        status, *_ = c.predict([handle_file(str(p)) for p in (deck, notes, other)], api_name="/ingest")
        answer = c.predict("What is the budget for the lighthouse project?", api_name="/ask")
    indexed = next(line for line in status.splitlines() if "✓ Indexed" in line)
    assert "uploads/deck.pptx" in indexed and "uploads/notes.markdown" in indexed and "0 failed" in indexed, status
    assert f"tool.exe: not a supported type; upload {' '.join(readers.EXTENSIONS)}" in status
    assert answer["citations"][0]["source"].endswith("uploads/deck.pptx")
    assert answer["citations"][0]["location"] == "slide 3"


# One ingest of a folder holding every format ----------------------------------------------------


def test_one_ingest_reads_every_format_and_citations_say_where(settings, tmp_path):
    folder = every_format(tmp_path / "mixed")
    def reply(messages: list) -> str:
        if "spare key" in messages[-1]["content"]:
            return "The spare key is under the blue bucket [1]."
        return "The budget for the lighthouse project is 42,000 kroner [1]."

    llm = ScriptedLLM(reply)
    with Assistant(settings.replace(corpus=[]), embedder=HashEmbedder(), llm=llm) as a:
        report = a.ingest([folder])
        assert (report.added, report.failed) == (len(BUILDERS) + 1, 0), report.errors
        sources = {Path(d["source"]).name for d in a.documents()}
        assert sources == set(BUILDERS) | {"notes.markdown"}
        found = {
            "What is the budget for the lighthouse project?": ("deck.pptx", "slide 3"),
            "How deep is the deepest fjord?": ("survey.pdf", "page 2"),
            "Region North Q1 Q2 revenue": ("figures.xlsx", "sheet Revenue"),
            "How many puffins at Hornøya?": ("birds.csv", "rows 1–3"),
            "Who keeps the lighthouse in the novel, Ada Brekke?": ("novel.epub", "section 1"),
            "highest tide metres": ("tides.ipynb", "cell 2"),
            "When does the north pier reopen?": ("report.docx", ""),
            "When was the dock inspection moved to?": ("inspection.eml", ""),
        }
        for question, (name, where) in found.items():
            top = a.retrieve(question, k=1)[0]
            assert (Path(top.source).name, top.location) == (name, where), (question, top)
        answer = a.ask("What is the budget for the lighthouse project?")
        cite = answer.citations[0]
        assert Path(cite.source).name == "deck.pptx" and cite.location == "slide 3"
        assert answer.to_dict()["citations"][0]["location"] == "slide 3"
        # The CLI's source line and the page's source card say it too.
        from assistant import cli

        out = io.StringIO()
        cli._print_stream(a, "What is the budget for the lighthouse project?", [], out=out)
        assert "deck.pptx (slide 3, chars " in out.getvalue()
        from assistant import ui

        card = ui._card(1, cite, answer.text, ui._Names(tmp_path / "uploads"))
        assert "slide 3, characters " in card
        # A plain-text citation carries no location: the JSON keeps its old shape.
        text_answer = a.ask("Where is the spare key?")
        assert "location" not in text_answer.to_dict()["citations"][0]


def _quote_first_source(messages: list) -> str:
    """An extractive fake model: answers with the first sentence of source [1], citing it."""
    import re

    match = re.search(r"^\[1\] \([^)]*\) (.+?)(?:[.!?](?:\s|$)|$)", messages[-1]["content"], re.MULTILINE)
    return f"{match.group(1)} [1]." if match else "The sources do not contain the answer."


def test_a_question_about_each_file_is_answered_with_a_citation_to_it(settings, tmp_path):
    folder = every_format(tmp_path / "mixed")
    questions = {
        "What is the budget for the lighthouse project?": "deck.pptx",
        "How deep is the deepest fjord?": "survey.pdf",
        "How many puffins at Hornøya?": "birds.csv",
        "Who keeps the lighthouse in the novel, Ada Brekke?": "novel.epub",
        "When does the north pier reopen?": "report.docx",
        "When was the dock inspection moved to?": "inspection.eml",
    }
    with Assistant(settings.replace(corpus=[], top_k=1), embedder=HashEmbedder(),
                   llm=ScriptedLLM(_quote_first_source)) as a:
        a.ingest([folder])
        for question, name in questions.items():
            answer = a.ask(question)
            assert not answer.refused and answer.citations, (question, answer)
            assert Path(answer.citations[0].source).name == name, (question, answer)


def test_bad_files_of_every_new_format_are_named_and_nothing_indexed_is_lost(settings, tmp_path):
    good = every_format(tmp_path / "good")
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("garbage.docx", "locked.pptx", "locked.xlsx", "pictures.pptx", "broken.json", "garbage.epub",
                 "garbage.odt", "not-a-notebook.ipynb", "no-headers.eml"):
        BAD[name][0](bad / name)
    for stray in bad.glob("*.src"):
        stray.unlink()
    with open(bad / "huge.xlsx", "wb") as f:
        f.truncate(200_000_000)
    with Assistant(settings.replace(corpus=[]), embedder=HashEmbedder(), llm=ScriptedLLM()) as a:
        a.ingest([good])
        before = a.store.count()
        report = a.ingest([bad, good])
        assert report.failed == 10 and report.added == 0 and report.unchanged == len(BUILDERS) + 1
        for path, message in report.errors.items():
            assert Path(path).name in message and "\n" not in message
        assert "over the 50 MB limit" in report.errors[str(bad / "huge.xlsx")]
        assert "encrypted PPTX" in report.errors[str(bad / "locked.pptx")]
        assert a.store.count() == before
        assert a.retrieve("lighthouse budget kroner", k=1)[0].location == "slide 3"


# The real models ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_models_answer_from_a_pdf_page_and_cite_it(tmp_path):
    # The shipped default model: the 0.5B's greedy answer to this one-sentence passage moves with
    # the CPU's floating-point sums (a refusal on one machine, the answer on another).
    folder = every_format(tmp_path / "mixed")
    settings = Settings(index_dir=tmp_path / "index", corpus=[], model="default", n_ctx=4096)
    with Assistant(settings) as a:
        report = a.ingest([folder])
        assert report.failed == 0, report.errors
        answer = a.ask("How deep is the deepest fjord?")
    assert "1308" in answer.text and not answer.refused, answer
    assert any(Path(c.source).name == "survey.pdf" and c.location == "page 2" for c in answer.citations), answer


def test_readers_load_no_heavy_library_until_a_file_needs_it():
    code = ("import sys, assistant.readers, assistant.documents\n"
            "print('LOADED', [m for m in ('docx', 'pptx', 'openpyxl', 'ebooklib', 'odf', 'pypdf') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "LOADED []" in out.stdout, out.stdout + out.stderr
