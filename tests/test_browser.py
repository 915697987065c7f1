"""The browser chat in real headless Chromium (Playwright). Most tests drive the app in-process on
fake backends; one runs `assistant serve` with the real MiniLM and 0.5B GGUF. Every page checks
that nothing was requested from a host other than this machine. Screenshots: tests/artifacts/."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from assistant import Assistant

from .conftest import ARTIFACTS, PROJECT_ROOT, SINGER, SINGER_REPLY, SMALL_MODEL, running
from .fakes import CountingLLM, HashEmbedder, free_port

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
ZORBLAX = "# Zorblax notes\n\nThe secret code of the Zorblax Institute is PURPLE-7741.\n"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make browser)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


class Page:
    """A page that records every host it asks for, and refuses all but loopback."""

    def __init__(self, browser, url: str, size: tuple[int, int] = (1400, 950), tab_of: "Page | None" = None,
                 **context) -> None:
        # tab_of: a new tab in that page's browser context (same localStorage, new session).
        self.context = tab_of.context if tab_of else browser.new_context(
            viewport={"width": size[0], "height": size[1]}, **context)
        self.page = self.context.new_page()
        self.hosts: set[str] = set()
        self.errors: list[str] = []
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(url)
        self.page.locator("#question textarea").wait_for(timeout=30_000)

    def _route(self, route) -> None:
        host = urlparse(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")):
            route.continue_()
            return
        self.hosts.add(host)
        if host in LOOPBACK:
            route.continue_()
        else:
            route.abort()

    def ask(self, question: str, turn: int, timeout: float = 30_000) -> None:
        """Type and send a question; wait until answer number ``turn`` is final."""
        box = self.page.locator("#question textarea")
        box.fill(question)
        box.press("Enter")
        self.page.locator(f"#sources #turn-{turn}").wait_for(timeout=timeout)

    def answer(self):
        return self.page.locator("#chat .message-content").last

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)

    def close(self) -> None:
        assert self.hosts and self.hosts <= LOOPBACK, f"the page asked for other hosts: {self.hosts - LOOPBACK}"
        assert not self.errors, self.errors
        self.page.close()
        if not self.context.pages:
            self.context.close()


def script_by_question(messages):
    question = messages[-1]["content"]
    if "Zorblax" in question:
        return "The secret code is PURPLE-7741 [1]."
    if "moon" in question:
        return "The sources do not contain the answer."
    return "<think>The sources name Carnegie.</think>" + SINGER_REPLY


@pytest.fixture
def fake_app(settings):
    llm = CountingLLM(script_by_question)
    with Assistant(settings, embedder=HashEmbedder(), llm=llm) as a, running(a) as (url, demo):
        yield url, llm


def test_chat_cites_opens_the_passage_keeps_thinking_folded_and_stays_offline(browser, fake_app):
    url, _ = fake_app
    p = Page(browser, url)
    page = p.page
    p.ask(SINGER, 1)
    answer = p.answer()
    assert "Carnegie Endowment for International Peace" in answer.inner_text()
    link = answer.locator("a.cite-link").first
    assert link.inner_text() == "[1]"
    # Thinking: a folded "Thinking" section, its text not in the answer and not shown until opened.
    thought = page.locator("#chat .thought-group")
    assert thought.count() == 1 and "Thinking" in thought.inner_text()
    assert not page.get_by_text("The sources name Carnegie.").is_visible()
    assert "The sources name Carnegie" not in answer.inner_text()
    # The card is folded: selecting [1] in the answer opens it and shows the passage, cited part marked.
    card = page.locator("#cite-1-1")
    assert "003_5ecbd052469d47e5.txt" in card.locator("summary").inner_text()
    assert re.search(r"characters [\d,]+–[\d,]+", card.inner_text())
    assert not card.locator(".passage").is_visible()
    link.click()
    card.locator(".passage").wait_for(state="visible", timeout=5_000)
    mark = card.locator("mark").first
    assert mark.is_visible() and "Carnegie Endowment for International Peace" in mark.inner_text()
    assert page.url.rstrip("/") == url.rstrip("/")  # the link opened the card, it did not navigate
    # System fonts only.
    font = page.evaluate("getComputedStyle(document.querySelector('#question textarea')).fontFamily")
    assert "system-ui" in font, font
    p.screenshot("browser_chat.png")
    # A refusal reads plainly: no citation chips, and the panel says why.
    p.ask("What colour is the cheese of the moon?", 2)
    assert p.answer().inner_text().strip() == "The sources do not contain the answer."
    assert p.answer().locator("a.cite-link").count() == 0
    assert "No sources" in page.locator("#sources").inner_text()
    # The earlier answer's citation still opens its own card (folded under the new answer).
    page.locator("#chat a.cite-link").first.click()
    page.locator("#cite-1-1 .passage").wait_for(state="visible", timeout=5_000)
    # New chat clears the conversation and the panel.
    page.locator("#new-chat").click()
    page.locator("#chat .message-content").first.wait_for(state="detached", timeout=5_000)
    assert page.locator("#sources .cite-card").count() == 0
    p.close()


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_history_reload_copy_all_passages_thinking_header_and_keys(browser, fake_app, settings, size):
    url, llm = fake_app
    name = "desktop" if size[0] > 800 else "phone"
    p = Page(browser, url, size=size, permissions=["clipboard-read", "clipboard-write"])
    page = p.page
    stop = page.locator("#stop")
    assert not stop.is_visible()  # Stop shows only while an answer is being generated
    # Shift+Enter adds a line, Enter sends.
    box = page.locator("#question textarea")
    box.press_sequentially("first line")
    box.press("Shift+Enter")
    box.press_sequentially("second line")
    assert box.input_value() == "first line\nsecond line"
    assert page.locator("#chat .message-content").count() == 0 and not llm.prompts
    p.ask(SINGER, 1)
    sync_api.expect(stop).to_be_hidden(timeout=5_000)
    # Thinking header: time and tokens, the total once the answer started.
    header = page.locator("#chat .thought-group").first.inner_text()
    assert re.search(r"Thinking[\s\S]*\d+\.\d s · \d+ tokens?", header), header
    assert "thinking…" not in header
    # All passages given to the model, folded, ranked; the cited card stays on top.
    shown = page.locator("#turn-1 .shown-passages")
    given = re.search(r"All (\d+) passages? given to the model", shown.locator("summary").first.inner_text())
    n = int(given.group(1))
    assert 1 <= n <= settings.top_k  # sentence selection: as many as its budget fits, at most top_k
    assert not shown.locator(".shown-passage").first.is_visible()
    shown.locator("summary").first.click()
    assert shown.locator(".shown-passage").count() == n
    assert shown.locator(".shown-passage .rank").first.inner_text() == "#1"
    # The whole passage, with the sentences the model read highlighted.
    shown.locator(".shown-passage summary").first.click()
    read = shown.locator(".shown-passage .passage .read").first
    assert read.is_visible()
    assert read.evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
    # Copy answer with sources: the answer, then its numbered sources, as Markdown.
    page.locator("#turn-1 button.copy-answer").click()
    page.locator("#turn-1 button.copy-answer", has_text="Copied").wait_for(timeout=5_000)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("Scott Singer") or "Carnegie Endowment" in copied.split("Sources:")[0], copied
    assert re.search(r"\n\nSources:\n\n- \[1\] \S*003_5ecbd052469d47e5\.txt — characters [\d,]+–[\d,]+", copied), copied
    # A refusal still lists what the model was shown.
    p.ask("What colour is the cheese of the moon?", 2)
    assert "No sources" in page.locator("#turn-2").inner_text()
    # (a follow-up: the first question's passages are still in the conversation, numbered after them)
    assert page.locator("#turn-2 .shown-passages .shown-passage").count() >= n
    p.screenshot(f"browser_chat_{name}.png")

    # Reload: the same chat and its sources come back from the browser's storage.
    page.reload()
    box.wait_for(timeout=30_000)
    page.locator("#sources #turn-2").wait_for(timeout=30_000)  # a loaded machine restores slowly
    chat = page.locator("#chat")
    assert "Carnegie Endowment for International Peace" in chat.inner_text()
    assert "The sources do not contain the answer." in chat.inner_text()
    page.locator("#chat a.cite-link").first.click()
    page.locator("#cite-1-1 .passage").wait_for(state="visible", timeout=5_000)
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('assistant-chat:')).length") == 1

    # A new tab starts a new chat; History reopens the earlier one.
    tab = Page(browser, url, tab_of=p)
    other = tab.page
    other.get_by_text("History").click()
    entry = other.locator("#history-list label").first
    entry.wait_for(timeout=10_000)
    assert other.locator("#chat .message-content").count() == 0
    assert other.locator("#history-list label").count() == 1 and SINGER[:20] in entry.inner_text()
    tab.screenshot(f"browser_history_{name}.png")
    entry.click()
    other.locator("#sources #turn-2").wait_for(timeout=10_000)
    assert "Carnegie Endowment for International Peace" in other.locator("#chat").inner_text()
    # Delete it: the list is empty, the open chat starts over, and a reload finds nothing.
    other.locator("#delete-chat").click()
    other.locator("#history-list label").first.wait_for(state="detached", timeout=10_000)
    other.locator("#chat .message-content").first.wait_for(state="detached", timeout=5_000)
    tab.close()
    page.reload()
    box.wait_for(timeout=30_000)
    page.wait_for_timeout(1_000)
    assert page.locator("#chat .message-content").count() == 0

    # Esc stops a long answer; Stop shows while it is generated, and goes after.
    llm.script, llm.delay = "Carnegie Endowment " * 80 + "[1].", 0.03
    finished = llm.closed_streams
    box.fill(SINGER)
    box.press("Enter")
    page.get_by_text("Carnegie Endowment Carnegie").first.wait_for(timeout=20_000)
    assert stop.is_visible()
    box.press("Escape")
    deadline = time.time() + 30  # a wait, not a timing assert: a loaded machine took over 10 s
    while llm.closed_streams == finished and time.time() < deadline:
        time.sleep(0.05)
    assert llm.closed_streams == finished + 1 and llm.active == 0
    stopped = p.answer().inner_text()
    time.sleep(0.5)
    assert p.answer().inner_text() == stopped and len(stopped) < len("Carnegie Endowment " * 80)
    sync_api.expect(stop).to_be_hidden(timeout=5_000)
    # The page fits the screen: nothing wider than the viewport.
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0] + 1
    p.close()


def test_upload_answer_from_it_report_a_bad_file_and_remove_it(browser, fake_app, tmp_path):
    url, llm = fake_app
    good = tmp_path / "zorblax.md"
    good.write_text(ZORBLAX)
    bad = tmp_path / "empty.txt"
    bad.write_text("   \n")
    p = Page(browser, url)
    page = p.page
    page.get_by_role("tab", name="Documents").click()
    page.locator("#documents").get_by_text("003_5ecbd052469d47e5.txt").wait_for(timeout=10_000)
    page.locator("#upload input[type=file]").set_input_files([str(good), str(bad)])
    status = page.locator("#docs-status")
    status.get_by_text("Indexed uploads/zorblax.md").wait_for(timeout=20_000)
    assert re.search(r"uploads/empty\.txt: no text to index", status.inner_text())
    assert str(tmp_path) not in page.content()
    page.locator("#documents").get_by_text("uploads/zorblax.md").wait_for(timeout=5_000)
    p.screenshot("browser_documents.png")

    page.get_by_role("tab", name="Chat").click()
    p.ask("What is the secret code of the Zorblax Institute?", 1)
    assert "PURPLE-7741" in p.answer().inner_text()
    assert "uploads/zorblax.md" in page.locator("#cite-1-1 summary").inner_text()
    assert "PURPLE-7741" in llm.prompts[-1][-1]["content"]  # the uploaded passage reached the model

    page.get_by_role("tab", name="Documents").click()
    page.locator("#documents").get_by_text("uploads/zorblax.md").click()  # selecting a row picks it
    sync_api.expect(page.locator("#doc-pick input")).to_have_value("uploads/zorblax.md", timeout=5_000)
    page.locator("#remove").click()
    status.get_by_text("Removed uploads/zorblax.md").wait_for(timeout=10_000)
    assert page.locator("#documents").get_by_text("uploads/zorblax.md").count() == 0
    p.close()


def test_settings_drawer_stop_button_and_two_tabs_in_order(browser, settings):
    llm = CountingLLM("Carnegie Endowment " * 60 + "[1].", delay=0.03)
    with Assistant(settings, embedder=HashEmbedder(), llm=llm) as a, running(a) as (url, _):
        first, second = Page(browser, url), Page(browser, url)
        # Settings drawer: top-k and max tokens reach the model.
        page = first.page
        page.locator("#settings").get_by_role("button").first.click()
        for elem, value in (("#top-k", "2"), ("#max-tokens", "64")):
            box = page.locator(f"{elem} input[type=number]")
            box.fill(value)
            box.press("Enter")
        # Stop: a long answer stops growing and the queue is free for the next question.
        assert not page.locator("#stop").is_visible()
        page.locator("#question textarea").fill(SINGER)
        page.locator("#question textarea").press("Enter")
        page.get_by_text("Carnegie Endowment Carnegie").first.wait_for(timeout=20_000)
        page.locator("#stop").click()
        sync_api.expect(page.locator("#stop")).to_be_hidden(timeout=5_000)
        deadline = time.time() + 30  # a wait, not a timing assert: a loaded machine took over 10 s
        while llm.closed_streams == 0 and time.time() < deadline:
            time.sleep(0.05)
        assert llm.closed_streams == 1 and llm.options[0][0] == 64
        stopped = first.answer().inner_text()
        time.sleep(0.5)
        assert first.answer().inner_text() == stopped and len(stopped) < len("Carnegie Endowment " * 60)
        # Two tabs ask at once: served one after the other, both answered, no errors.
        llm.script, llm.delay = SINGER_REPLY, 0.02  # (grounded: claim-level grounding withholds a made-up line)
        for tab in (first, second):
            tab.page.locator("#question textarea").fill(SINGER)
            tab.page.locator("#question textarea").press("Enter")
        for tab in (first, second):
            tab.page.locator("#sources #turn-1").wait_for(timeout=30_000)
            assert tab.answer().locator("a.cite-link").count() == 1
            assert "rror" not in tab.page.locator("#chat").inner_text()
        assert llm.max_active == 1 and len(llm.prompts) == 3
        assert "Reading 2 passages" not in first.page.content()  # the status gives way to the answer
        first.screenshot("browser_two_tabs.png")
        first.close()
        second.close()


# The real thing ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_model_through_assistant_serve(browser, tmp_path):
    """`assistant serve` with MiniLM and the 0.5B GGUF: a cited answer, its passage, an upload."""
    from gradio_client import Client

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_INDEX_DIR=str(tmp_path / "index"), PYTHONUNBUFFERED="1")
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve", "--model", str(SMALL_MODEL), "--port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(server.stdout), daemon=True).start()
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 180
        while not any("Browser chat at" in line for line in lines):
            assert server.poll() is None and time.time() < deadline, "".join(lines)
            time.sleep(0.2)
        assert any(url.rstrip("/") in line for line in lines), lines

        p = Page(browser, url)
        page = p.page
        p.ask(SINGER, 1, timeout=180_000)
        assert "Carnegie" in p.answer().inner_text()
        link = p.answer().locator("a.cite-link").first
        link.wait_for(timeout=5_000)
        card_id = link.get_attribute("href").lstrip("#")
        link.click()
        card = page.locator(f"#{card_id}")
        card.locator(".passage").wait_for(state="visible", timeout=5_000)
        assert "articles/003_5ecbd052469d47e5.txt" in page.locator("#sources").inner_text()
        assert "Scott Singer" in card.locator(".passage").inner_text()
        p.screenshot("browser_real_model.png")

        note = tmp_path / "zorblax.md"
        note.write_text(ZORBLAX)
        page.get_by_role("tab", name="Documents").click()
        page.locator("#upload input[type=file]").set_input_files(str(note))
        page.locator("#docs-status").get_by_text("Indexed").wait_for(timeout=60_000)
        assert str(tmp_path) not in page.content()
        page.get_by_role("tab", name="Chat").click()
        p.ask("What is the secret code of the Zorblax Institute?", 2, timeout=180_000)
        assert "PURPLE-7741" in p.answer().inner_text()
        p.screenshot("browser_real_model_upload.png")
        p.close()

        result = Client(url, verbose=False).predict(SINGER, api_name="/ask")
        assert set(result) == {"answer", "citations", "refused", "thinking", "removed", "conflicts"}
        assert "Carnegie" in result["answer"] and result["refused"] is False
        assert any(c["source"] == "articles/003_5ecbd052469d47e5.txt" for c in result["citations"]), result
        assert all(set(c) == {"n", "source", "text", "start", "end", "shown"} for c in result["citations"])
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0, "".join(lines)
    assert any("Stopping" in line for line in lines)


def test_the_page_shows_sources_that_differ_and_what_was_removed(browser, tmp_path):
    """A made-up corpus whose sources give two weekdays; the scripted answer gives one, and adds a
    sentence no source supports."""
    from assistant import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbor.txt").write_text("Harbor Lights opened the Porto Verde terminal on Tuesday, its chief said.\n")
    (corpus / "city.txt").write_text("Harbor Lights opened the Porto Verde terminal on Wednesday, the city said.\n")
    settings = Settings(index_dir=tmp_path / "index", corpus=[corpus], models_dir=tmp_path / "models")
    reply = "Harbor Lights opened the Porto Verde terminal on Tuesday [1]. It was designed by Arup Studio [1]."
    with Assistant(settings, embedder=HashEmbedder(), llm=CountingLLM(reply)) as a, running(a) as (url, _):
        p = Page(browser, url)
        p.ask("On which day did Harbor Lights open the Porto Verde terminal?", 1)
        answer = p.answer()
        note = answer.locator(".conflict-note")
        assert note.is_visible() and "sources differ" in note.inner_text()
        assert "Tuesday" in note.inner_text() and "Wednesday" in note.inner_text()
        assert "Arup Studio" not in answer.locator("p").first.inner_text()
        removed = answer.locator("details.removed-note")
        assert "removed: not in the sources" in removed.locator("summary").inner_text()
        assert not removed.get_by_text("Arup Studio").is_visible()  # folded until opened
        removed.locator("summary").click()
        removed.get_by_text("Arup Studio").wait_for(state="visible", timeout=5_000)
        p.screenshot("browser_differ_removed.png")
        p.close()


def test_the_thinking_header_counts_while_the_model_thinks(browser, settings):
    """A reasoning model's header shows 'thinking… 1.2 s · 9 tokens' as it thinks, then the total."""
    thought = "<think>" + "Source one names the Carnegie Endowment for International Peace. " * 3 + "</think>"
    llm = CountingLLM([*(w + " " for w in thought.split(" ")), SINGER_REPLY], delay=0.25)
    with Assistant(settings, embedder=HashEmbedder(), llm=llm) as a, running(a) as (url, _):
        p = Page(browser, url)
        box = p.page.locator("#question textarea")
        box.fill(SINGER)
        box.press("Enter")
        header = p.page.locator("#chat .thought-group").first
        sync_api.expect(header).to_contain_text(re.compile(r"thinking… \d+\.\d s · \d+ tokens?"), timeout=20_000)
        p.page.locator("#sources #turn-1").wait_for(timeout=30_000)
        final = header.inner_text()
        assert "thinking…" not in final and re.search(r"\d+\.\d s · \d+ tokens?", final), final
        p.close()
