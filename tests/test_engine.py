"""The engine on every CPU: the extra-buffer setting, the install check, `assistant doctor`, and
surviving a crash inside llama.cpp (issue: AMX CPUs died with SIGILL at the first token)."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from assistant import Assistant, Settings
from assistant.config import PROJECT_ROOT
from assistant.doctor import cpu, signal_reason, smoke
from assistant.errors import AssistantError

from .conftest import SMALL_MODEL

ENV = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}


def _sigill_package(tmp_path):
    """A fake llama_cpp whose import dies the way a build for another CPU does: with SIGILL."""
    pkg = tmp_path / "fake" / "llama_cpp"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGILL)\n")
    return pkg.parent


# The install check and its one line ------------------------------------------------------------


def test_smoke_names_the_signal_when_the_child_dies_of_sigill(tmp_path):
    kill = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGILL)"]
    result = smoke(tmp_path / "m.gguf", command=kill)
    assert not result.ok
    assert "SIGILL" in result.reason and "illegal instruction" in result.reason and "fix:" in result.reason
    assert "\n" not in result.reason


def test_signal_reason_covers_segfault_and_out_of_memory():
    assert "SIGSEGV" in signal_reason(-signal.SIGSEGV, "x")
    assert "out of memory" in signal_reason(-signal.SIGKILL, "x")


@pytest.mark.skipif(not SMALL_MODEL.exists(), reason="needs make install")
def test_install_check_fails_in_one_line_without_a_core_dump_when_the_engine_gets_sigill(tmp_path):
    # The fake comes first on the path; the parent never imports llama_cpp, only the child does.
    env = {**ENV, "PYTHONPATH": f"{_sigill_package(tmp_path)}{os.pathsep}{PROJECT_ROOT}"}
    run = subprocess.run([sys.executable, "-m", "assistant.doctor", "--install-check"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "SIGILL" in lines[0] and "CPU" in lines[0] and "fix:" in lines[0]
    assert "Traceback" not in run.stderr + run.stdout
    assert not list(tmp_path.glob("core*"))


@pytest.mark.slow
def test_install_check_passes_with_the_real_engine(tmp_path):
    run = subprocess.run([sys.executable, "-m", "assistant.doctor", "--install-check"], cwd=tmp_path, env=ENV,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("engine check: ok") and "tok/s" in run.stdout


# The setting reaches llama.cpp -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("extra", ["off", "on"])
def test_extra_buffers_setting_reaches_the_model_parameters(extra):
    import llama_cpp.llama_cpp as C

    from assistant.generation import create_llm

    original = C.llama_model_default_params
    # No saved prefix: restoring or building it evaluates tokens, which with AMX buffers is the crash.
    settings = Settings(extra_buffers=extra, isolate_engine=False, n_ctx=512, prefix_cache=False)
    llm = create_llm(settings, SMALL_MODEL)
    try:
        assert llm._llm.model_params.use_extra_bufts is (extra == "on")
        if not (extra == "on" and cpu()["amx"]):  # generating with AMX buffers here is the crash itself
            assert "".join(llm.stream([{"role": "user", "content": "Say hi."}], 4, 0.0))
    finally:
        llm.close()
    assert C.llama_model_default_params is original  # restored after the load


@pytest.mark.parametrize("flags", [{"avx2", "avx512f", "amx_tile", "amx_int8"}, {"avx2", "avx512f"}, {"avx2"},
                                   {"asimd", "i8mm"}, set()])
def test_auto_uses_no_extra_buffers_on_any_cpu(monkeypatch, flags):
    from assistant import generation

    # AMX kernels crash; elsewhere repacking costs every load and a private copy of the weights.
    monkeypatch.setattr(generation, "cpu_flags", lambda: flags)
    assert Settings().extra_buffers == "auto"
    assert generation.use_extra_buffers("auto") is False
    assert generation.use_extra_buffers("on") is True
    assert generation.use_extra_buffers("off") is False


def test_a_missing_model_parameter_is_refused_by_name():
    pytest.importorskip("llama_cpp")
    from assistant.generation import model_params

    with pytest.raises(AssistantError, match="no_such_field"):
        with model_params(no_such_field=1):
            pass


# assistant doctor ----------------------------------------------------------------------------------


def _doctor(tmp_path, *flags, env=None):
    return subprocess.run([sys.executable, "-m", "assistant.cli", "doctor", *flags], cwd=tmp_path,
                          env=env or ENV, capture_output=True, text=True, timeout=300)


def test_cpu_report_lists_features_of_this_machine():
    info = cpu()
    assert info["model"] and isinstance(info["features"], list)
    assert info["amx"] == ("amx_tile" in info["features"])


@pytest.mark.slow
def test_doctor_reports_a_healthy_install(tmp_path):
    from assistant.embedding import describe
    from assistant.store import ChromaStore

    store = ChromaStore(*describe(Settings().embedder), path=tmp_path / "index")
    assert store.count() == 0  # created on first use
    store.close()
    run = _doctor(tmp_path, "--index-dir", str(tmp_path / "index"), "--model", "small")
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    for needle in ("cpu:", "features:", "versions:", "llama-cpp-python", "models:",
                   "index:", "embedder", "chromium", "llama.cpp:", "model buffer types:", "engine: ok",
                   "prompt", "generation", "all good"):
        assert needle in out, (needle, out)


def test_doctor_fails_on_a_missing_model_without_a_traceback(tmp_path):
    run = _doctor(tmp_path, "--index-dir", str(tmp_path / "index"), "--models-dir", str(tmp_path / "none"))
    assert run.returncode == 1
    assert "problem: model 'default'" in run.stdout and "not found" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


@pytest.mark.slow
def test_doctor_fails_on_an_index_built_by_another_embedder(tmp_path):
    from assistant.store import ChromaStore

    store = ChromaStore("another-embedder", 384, path=tmp_path / "index")
    assert store.count() == 0  # created on first use
    store.close()
    run = _doctor(tmp_path, "--index-dir", str(tmp_path / "index"), "--model", "small")
    assert run.returncode == 1
    assert "problem:" in run.stdout and "another-embedder" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


def test_doctor_fails_when_the_engine_dies(tmp_path):
    if not SMALL_MODEL.exists():
        pytest.skip("needs make install")
    env = {**ENV, "PYTHONPATH": f"{_sigill_package(tmp_path)}{os.pathsep}{PROJECT_ROOT}"}
    run = _doctor(tmp_path, "--index-dir", str(tmp_path / "index"), "--model", "small", env=env)
    assert run.returncode == 1
    assert "engine: FAILED" in run.stdout and "SIGILL" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


# A crash inside llama.cpp fails one answer, and the next one works -------------------------------


@pytest.mark.slow
def test_isolated_engine_survives_a_crash_and_reloads():
    from assistant.engine import IsolatedLLM

    llm = IsolatedLLM(SMALL_MODEL, n_ctx=512, n_threads=2)
    ask = [{"role": "user", "content": "Count from one to twenty in words."}]
    try:
        assert llm.count_tokens("hello world") > 0
        pieces = llm.stream(ask, 64, 0.0)
        next(pieces)
        os.kill(llm._proc.pid, signal.SIGILL)  # what an AMX kernel without permission does
        with pytest.raises(AssistantError, match="SIGILL.*reloads for the next question"):
            for _ in pieces:
                pass
        assert "".join(llm.stream(ask, 8, 0.0))  # a new child, the model loaded again
    finally:
        llm.close()


@pytest.mark.slow
def test_an_engine_started_early_gets_its_model_later(monkeypatch):
    from assistant import engine

    engine.discard_spare()
    engine.prestart()  # before any settings: it imports llama.cpp and waits
    early = engine._spare[0]
    llm = engine.IsolatedLLM(SMALL_MODEL, n_ctx=512, n_threads=2)
    try:
        assert llm._proc is early and engine._spare is None
        assert "".join(llm.stream([{"role": "user", "content": "Say yes."}], 4, 0.0))
    finally:
        llm.close()
    # One whose environment has changed since is not used: it exits, and a new one starts.
    engine.prestart()
    stale = engine._spare[0]
    monkeypatch.setenv("ASSISTANT_TEST_MARK", "1")
    llm = engine.IsolatedLLM(SMALL_MODEL, n_ctx=512, n_threads=2)
    try:
        assert llm._proc is not stale and stale.wait(timeout=30) == 0
        assert llm.n_ctx == 512
    finally:
        llm.close()


def test_an_engine_started_early_goes_when_the_settings_choose_no_child(tmp_path):
    from assistant import engine
    from assistant.generation import create_llm

    engine.discard_spare()
    engine.prestart()
    early = engine._spare[0]
    create_llm(Settings(index_dir=tmp_path, llm_url="http://127.0.0.1:9/v1"), None)
    assert engine._spare is None and early.wait(timeout=30) == 0


def test_the_cli_starts_an_engine_early_only_for_a_question_to_llama_cpp(monkeypatch):
    from assistant.cli import _loads_engine

    monkeypatch.delenv("ASSISTANT_LLM_URL", raising=False)
    monkeypatch.delenv("ASSISTANT_ISOLATE_ENGINE", raising=False)
    assert _loads_engine(["ask", "Who?"]) and _loads_engine(["chat"])
    for argv in (["ingest", "docs"], ["ask", "--help"], ["ask", "Who?", "--llm-url", "http://h/v1"],
                 ["ask", "Who?", "--no-isolate-engine"], []):
        assert not _loads_engine(argv), argv
    monkeypatch.setenv("ASSISTANT_ISOLATE_ENGINE", "false")
    assert not _loads_engine(["ask", "Who?"])


def test_an_engine_started_early_and_never_used_exits_with_its_parent():
    # The parent exits without handing it a model: its input ends, and so does it.
    code = "from assistant import engine; engine.prestart(); print(engine._spare[0].pid)"
    run = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=60)
    pid = int(run.stdout)
    for _ in range(300):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f"the early engine process {pid} outlived its parent")


@pytest.mark.slow
def test_isolated_engine_stops_generating_when_the_caller_stops():
    from assistant.engine import IsolatedLLM

    llm = IsolatedLLM(SMALL_MODEL, n_ctx=512, n_threads=2)
    try:
        pieces = llm.stream([{"role": "user", "content": "Write a long story."}], 300, 0.0)
        next(pieces)
        started = time.monotonic()
        pieces.close()  # Stop in the page
        assert time.monotonic() - started < 10
        assert "".join(llm.stream([{"role": "user", "content": "Say yes."}], 4, 0.0))
    finally:
        llm.close()


@pytest.mark.slow
def test_the_page_survives_an_engine_crash(tmp_path):
    """Through gradio_client: the question during which llama.cpp dies gets an error; the next one an answer."""
    gradio_client = pytest.importorskip("gradio_client")
    from assistant.ui import build_app

    from .conftest import ARTICLES

    settings = Settings(index_dir=tmp_path / "index", corpus=[ARTICLES], model=str(SMALL_MODEL), n_ctx=4096)
    assistant = Assistant(settings)
    demo = build_app(assistant)
    demo.queue().launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    try:
        client = gradio_client.Client(demo.local_url, verbose=False)
        engine = assistant.llm
        killer = threading.Timer(1.0, lambda: os.kill(engine._proc.pid, signal.SIGILL))
        killer.start()
        with pytest.raises(Exception, match="SIGILL"):
            client.predict("Where is Scott Singer a visiting scholar?", api_name="/ask")
        killer.join()
        answer = client.predict("Where is Scott Singer a visiting scholar?", api_name="/ask")
        assert "Carnegie" in answer["answer"]
    finally:
        demo.close()
        assistant.close()
