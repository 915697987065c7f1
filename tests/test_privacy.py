"""Security and privacy: loopback by default, --auth over the page and its API, uploads confined
to the upload folder, no absolute paths on the page, and no outbound connection at all (every
socket connect and name lookup in the process is watched while the whole flow runs)."""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from assistant import Assistant, Settings
from assistant.ui import launch_app

from .conftest import ARTICLES, SINGER, SINGER_REPLY, SMALL_MODEL, client, last_messages, running, text_of
from .fakes import HashEmbedder, ScriptedLLM, free_port


def listening_addresses(port: int) -> list[str]:
    """Local addresses of this process's listening TCP sockets on ``port``, as /proc shows them."""
    found = []
    for name in ("tcp", "tcp6"):
        with open(f"/proc/self/net/{name}") as f:
            for row in list(f)[1:]:
                parts = row.split()
                address, state = parts[1], parts[3]
                if state == "0A" and int(address.rsplit(":", 1)[1], 16) == port:
                    found.append(address)
    return found


def test_the_page_listens_on_loopback_unless_told_otherwise(make_assistant):
    assert Settings().host == "127.0.0.1"
    assert launch_app.__defaults__[0] == "127.0.0.1"
    import gradio as gr

    demo = gr.Blocks()
    with demo:
        gr.Markdown("x")
    port = free_port()
    launch_app(demo, port=port)  # the default host
    try:
        assert listening_addresses(port) == ["0100007F:%04X" % port]  # 127.0.0.1 only
    finally:
        demo.close()


def test_auth_protects_the_page_its_api_and_uploads(make_assistant, tmp_path, settings):
    a = make_assistant(SINGER_REPLY)
    note = tmp_path / "note.txt"
    note.write_text("A private note about the Zorblax Institute.")
    with running(a, auth=("me", "s3cret")) as (url, _):
        page = httpx.get(url, timeout=30)  # the shell that shows the login form, and nothing of the app
        assert page.status_code == 200 and "auth_required" in page.text
        assert "003_5ecbd052469d47e5" not in page.text and "Ask your documents" not in page.text
        assert httpx.get(url + "config", timeout=30).status_code == 401
        assert httpx.get(url + "gradio_api/info", timeout=30).status_code == 401
        upload = httpx.post(url + "gradio_api/upload", files={"files": ("x.md", b"hello")}, timeout=30)
        assert upload.status_code == 401
        with pytest.raises(Exception):
            client(url).predict(SINGER, api_name="/ask")
        wrong = httpx.post(url + "login", data={"username": "me", "password": "nope"}, timeout=30)
        assert wrong.status_code >= 400
        c = client(url, auth=("me", "s3cret"))
        assert c.predict(SINGER, api_name="/ask")["answer"] == SINGER_REPLY
        from gradio_client import handle_file

        status = c.predict([handle_file(str(note))], api_name="/ingest")[0]
        assert "Indexed uploads/note.txt" in status
    assert not list(Path(settings.index_dir).glob("uploads/*x.md"))


HOSTILE_NAMES = ["../../../../evil.md", "..\\..\\evil2.md", "/etc/evil3.md", ".hidden.md", "sub/dir/deep.md",
                 "new\nline.md", "..", "con.txt\x00.exe.md", "ünï cödé 日本.md"]


def test_upload_names_cannot_escape_the_upload_folder(make_assistant, settings, tmp_path):
    a = make_assistant()
    before = {p for p in tmp_path.rglob("*")}
    with running(a) as (url, _):
        c = client(url)
        accepted = 0
        for i, raw in enumerate(HOSTILE_NAMES):
            body = f"Upload {i} tells that the hidden vault number is {1000 + i}.".encode()
            r = httpx.post(url + "gradio_api/upload", files={"files": (raw, body, "text/markdown")}, timeout=30)
            if r.status_code == 400:  # Gradio itself refuses some ("Invalid file name: ..")
                continue
            assert r.status_code == 200, r.text
            accepted += 1
            (server_path,) = r.json()
            status, *_ = c.predict([{"path": server_path, "meta": {"_type": "gradio.FileData"}}], api_name="/ingest")
            assert str(tmp_path) not in status and "\n-" not in status.strip("- "), status
        table, _ = c.predict(api_name="/documents")
    uploads = (settings.index_dir / "uploads").resolve()
    created = {p for p in tmp_path.rglob("*") if p not in before}
    outside = [p for p in created if p.is_file() and uploads not in p.resolve().parents
               and settings.index_dir.resolve() not in p.resolve().parents]
    assert outside == [], outside  # nothing written anywhere but the index and its uploads
    names = sorted(p.name for p in uploads.iterdir())
    assert all(not n.startswith(".") and "/" not in n and "\\" not in n and "\n" not in n for n in names), names
    assert accepted >= len(HOSTILE_NAMES) - 2 and len(names) == accepted, names  # each kept, under a clean name
    shown = [row[0] for row in table["data"]]
    assert all(s.startswith("uploads/") or "/" not in s for s in shown), shown
    assert "passwd" not in " ".join(shown)


def _raw_call(url: str, api: str, data: list) -> str:
    """Call an endpoint with plain HTTP (gradio_client would upload a local file named in a value)."""
    event = httpx.post(f"{url}gradio_api/call/{api}", json={"data": data}, timeout=30).json()["event_id"]
    return httpx.get(f"{url}gradio_api/call/{api}/{event}", timeout=60).text


def test_a_client_cannot_name_files_on_the_server(make_assistant, settings, tmp_path):
    """A file value naming a path on the server (not an upload) is refused, for the upload box and
    for a file part in the chat history the page echoes back: nothing read, indexed or served."""
    secret = tmp_path / "server_secret.txt"
    secret.write_text("Server-side secret: the root password is hunter2.")
    a = make_assistant()
    with running(a) as (url, _):
        for path in (str(secret), "/etc/passwd", str(settings.corpus[0] / "001_60b042e0a4f50d15.txt")):
            value = {"path": path, "meta": {"_type": "gradio.FileData"}}
            ingest = _raw_call(url, "ingest", [[value]])
            history = [{"role": "user", "content": [{"type": "file", "file": value}]},
                       {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}]
            chat = _raw_call(url, "chat", [SINGER, history, 2, 0.0, 64])
            for out in (ingest, chat):
                assert "event: error" in out and "not uploaded by a user" in out, out[-300:]
                assert "hunter2" not in out and "root:" not in out and "gradio_api/file=" not in out
    assert not (settings.index_dir / "uploads").exists() or not list((settings.index_dir / "uploads").iterdir())
    assert not any("hunter2" in p.text for p in a.retrieve("root password", k=10))


def test_the_page_shows_names_never_absolute_paths(make_assistant, settings, tmp_path):
    """The corpus lives outside the project (in tmp_path): the page must show file names only,
    in the documents list, the upload status, the chat's sources and for duplicates."""
    a = make_assistant("Scott Singer is a visiting scholar at the Carnegie Endowment [1].")
    dup = tmp_path / "copy of 003.txt"
    dup.write_bytes((settings.corpus[0] / "003_5ecbd052469d47e5.txt").read_bytes())
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    secret = str(tmp_path)
    with running(a) as (url, _):
        c = client(url)
        from gradio_client import handle_file

        status, table, *_ = c.predict([handle_file(str(dup)), handle_file(str(empty))], api_name="/ingest")
        final = c.predict(SINGER, api_name="/chat")
        table2, picks = c.predict(api_name="/documents")
        config = httpx.get(url + "config", timeout=30).text
        page = httpx.get(url, timeout=30).text
    shown = [row[0] for row in table2["data"]]
    assert "uploads/copy of 003.txt" in shown and "003_5ecbd052469d47e5.txt" in shown  # a duplicate, both names
    assert "empty.txt" in status and "no text" in status
    for where, text in [("status", status), ("table", str(table2)), ("choices", str(picks)), ("chat", str(final)),
                        ("config", config), ("page", page)]:
        assert secret not in text, f"absolute path in the {where}"
    assert "003_5ecbd052469d47e5.txt" in final[2] or "copy of 003.txt" in final[2]


# No outbound connection ------------------------------------------------------------------------------


def _loopback(host: str) -> bool:
    return host in ("localhost", "", "0.0.0.0", "::", "::1") or host.startswith("127.") or host == "::ffff:127.0.0.1"


@contextmanager
def no_outbound_connections():
    """Record (and refuse) every connect and name lookup to anything but this machine."""
    attempts: list[str] = []
    lock = threading.Lock()
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def target(address) -> str:
        if isinstance(address, tuple):
            return str(address[0])
        return "unix" if isinstance(address, (str, bytes)) else repr(address)

    def check(sock, address):
        host = target(address)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(host):
            with lock:
                attempts.append(f"connect {address!r}")
            raise ConnectionRefusedError(f"test: no outbound connections ({address!r})")

    def connect(sock, address):
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        check(sock, address)
        return real_connect_ex(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        if not _loopback(name):
            with lock:
                attempts.append(f"lookup {name!r}")
            raise socket.gaierror(f"test: no name lookups ({name!r})")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
    try:
        yield attempts
    finally:
        socket.socket.connect, socket.socket.connect_ex = real_connect, real_connect_ex
        socket.getaddrinfo = real_getaddrinfo


def test_the_guard_catches_an_outbound_connection():
    with no_outbound_connections() as attempts:
        with pytest.raises(OSError):
            socket.create_connection(("93.184.216.34", 80), timeout=1)
        with pytest.raises(httpx.ConnectError):
            httpx.get("http://example.com/", timeout=1)
    assert len(attempts) == 2


def _whole_flow(a: Assistant, corpus: Path, tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Note\nThe Zorblax Institute's vault code is PURPLE-7741.\n")
    report = a.ingest([corpus])
    assert report.failed == 0
    assert a.ask(SINGER).text
    with running(a) as (url, _):
        from gradio_client import handle_file

        c = client(url)
        assert "Indexed" in c.predict([handle_file(str(note))], api_name="/ingest")[0]
        assert c.predict(SINGER, api_name="/ask")["answer"]
        assert text_of(last_messages(c.predict(SINGER, api_name="/chat")[1])[1])
        httpx.get(url, timeout=30).raise_for_status()


def test_no_outbound_connection_in_the_whole_flow_on_fakes(settings, corpus, tmp_path):
    with no_outbound_connections() as attempts:
        with Assistant(settings, embedder=HashEmbedder(), llm=ScriptedLLM(SINGER_REPLY)) as a:
            _whole_flow(a, corpus, tmp_path)
    assert attempts == []


@pytest.mark.slow
def test_no_outbound_connection_in_the_whole_flow_on_the_real_models(tmp_path):
    settings = Settings(index_dir=tmp_path / "index", corpus=[ARTICLES], model=str(SMALL_MODEL), max_tokens=24,
                        top_k=2)
    with no_outbound_connections() as attempts:
        with Assistant(settings) as a:  # MiniLM (sentence-transformers) and llama.cpp, loaded in here
            _whole_flow(a, ARTICLES, tmp_path)
    assert attempts == []
