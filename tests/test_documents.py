from pathlib import Path

import pytest

from assistant import documents
from assistant.chunking import chunk_document
from assistant.text import sentence_spans as split_sentences
from assistant.errors import AssistantError

from .conftest import ARTICLES, pdf_with_text
from .fakes import HashEmbedder

COUNT = HashEmbedder().count_tokens


def test_tekedia_boilerplate_is_dropped_but_the_article_kept():
    doc = documents.load(ARTICLES / "001_60b042e0a4f50d15.txt")
    kept = " ".join(doc.text[a:b] for a, b in doc.blocks)
    assert "Tekedia" not in kept and "Register" not in kept
    assert "37 billion actively engaged during inference" in kept
    assert "Dan Newman, CEO of Futurum Group" in kept


def test_chunks_point_into_the_original_text_and_fit_the_embedder():
    for path in sorted(ARTICLES.glob("*.txt")):
        doc = documents.load(path)
        chunks = chunk_document(doc, COUNT, max_tokens=120, overlap=1)
        assert chunks
        for c in chunks:
            assert " ".join(doc.text[c.start : c.end].split()) == c.text
            assert COUNT(c.text) <= 120
            assert "Tekedia" not in c.text
        # Neighbours share a sentence (overlap) and together they cover every kept sentence.
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        for a, b in doc.blocks:
            for s, e in split_sentences(doc.text, a, b):
                assert s in covered and e - 1 in covered


def test_overlap_repeats_the_last_sentence():
    doc = documents.load(ARTICLES / "000_234affcd5d5497eb.txt")
    chunks = chunk_document(doc, COUNT, max_tokens=60, overlap=1)
    for first, second in zip(chunks, chunks[1:]):
        # Neighbours share a sentence, unless the first is a single sentence (nothing to share).
        if len(split_sentences(doc.text, first.start, first.end)) > 1:
            assert second.start < first.end


def test_sentences_survive_abbreviations_and_decimals():
    text = "Shares rose 8.39% in the U.S. market on Jan. 5. Dr. Smith agreed. Then it fell!"
    spans = [text[a:b] for a, b in split_sentences(text)]
    assert spans == ["Shares rose 8.39% in the U.S. market on Jan. 5.", "Dr. Smith agreed.", "Then it fell!"]


def test_a_sentence_longer_than_the_limit_is_cut_at_words(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text(" ".join(f"word{i}" for i in range(600)) + ".")
    chunks = chunk_document(documents.load(path), COUNT, max_tokens=50, overlap=0)
    assert len(chunks) > 10 and all(COUNT(c.text) <= 50 for c in chunks)


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("empty.txt", b"", "no text to index"),
        ("blank.txt", b"  \n\t \n", "no text to index"),
        ("binary.txt", bytes(range(256)) * 20, "binary"),
        ("scripts.html", b"<html><script>var a=1;</script><style>p{}</style></html>", "no text to index"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
    ],
)
def test_bad_files_get_one_clear_error_naming_them(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(AssistantError) as err:
        documents.load(path)
    assert name in str(err.value) and message in str(err.value)


def test_legacy_encodings_are_decoded(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("Café in Zürich costs 5 €.".encode("cp1252"))
    (tmp_path / "utf16.txt").write_bytes("Grüße aus Köln.".encode("utf-16"))
    assert "Zürich" in documents.load(tmp_path / "latin1.txt").text
    assert documents.load(tmp_path / "utf16.txt").text == "Grüße aus Köln."


@pytest.mark.parametrize("text, encoding", [
    ("Le café de Zürich coûte 5 €, dit Frédéric — déjà vu.", "cp1252"),
    ("Smart “quotes” and – dashes… from a Word export; naïve résumé.", "cp1252"),
    ("Привет! Это тестовый документ о погоде в Москве.", "cp1251"),
    ("В Москве сегодня солнечно, температура двадцать градусов.", "koi8_r"),
    ("Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.", "cp1253"),
    ("Żółć gęślą jaźń — Kraków jest pięknym miastem.", "cp1250"),
    ("日本語のテキストです。東京は日本の首都です。", "shift_jis"),
    ("这是一个中文文本。北京是中国的首都。", "gb18030"),
])
def test_text_in_a_legacy_encoding_reads_as_written(tmp_path, text, encoding):
    """Windows-1252 first (Western text never turns into another script); other encodings found by
    charset-normalizer when Windows-1252 would read as mojibake."""
    path = tmp_path / "legacy.txt"
    path.write_bytes(text.encode(encoding))
    assert documents.load(path).text == text


def test_html_keeps_visible_text_only(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<html><head><title>T</title><script>alert(1)</script></head><body><nav>Menu</nav>"
                    "<p>Alibaba released <b>QwQ-32B</b>.</p><p>Second &amp; last.</p></body></html>")
    doc = documents.load(path)
    assert doc.text == "Alibaba released QwQ-32B.\nSecond & last."


def test_pdf_text_layer_is_read(tmp_path):
    path = tmp_path / "note.pdf"
    path.write_bytes(pdf_with_text("The secret launch code is PINEAPPLE-42."))
    assert "PINEAPPLE-42" in documents.load(path).text


def test_folders_are_walked_without_leaving_them(tmp_path):
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "docs" / "a.md").write_text("# A\nalpha")
    (tmp_path / "docs" / "sub" / "b.txt").write_text("beta")
    (tmp_path / "docs" / "skip.bin").write_text("x")
    (tmp_path / "outside.txt").write_text("outside")
    (tmp_path / "docs" / "link.txt").symlink_to(tmp_path / "outside.txt")
    (tmp_path / "docs" / "sub" / "loop").symlink_to(tmp_path / "docs")
    names = sorted(Path(p).name for p in documents.iter_files(tmp_path / "docs"))
    assert names == ["a.md", "b.txt"]
    assert "link.txt" in [Path(p).name for p in documents.iter_files(tmp_path / "docs", follow_symlinks=True)]
