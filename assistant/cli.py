"""The `assistant` command. It only calls the public Python API.

Every Settings field is also a flag (``top_k`` → ``--top-k``); flags outrank environment
variables, which outrank the TOML file. User errors print one line, with no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, get_args, get_origin

from .environment import configure
from .errors import AssistantError

if TYPE_CHECKING:
    from .config import Settings

# Commands that load the model: their engine process starts before the settings are read.
_ANSWERING = ("ask", "chat")


def _loads_engine(argv: list[str]) -> bool:
    """Whether the command will run llama.cpp in a child, as far as can be told before the settings
    are read (a TOML file may still name a server: the child then goes unused, and is ended)."""
    if not argv or argv[0] not in _ANSWERING or {"-h", "--help", "--no-isolate-engine"} & set(argv):
        return False
    if any(a == "--llm-url" or a.startswith("--llm-url=") for a in argv) or os.environ.get("ASSISTANT_LLM_URL"):
        return False
    return os.environ.get("ASSISTANT_ISOLATE_ENGINE", "true").strip().lower() not in ("0", "false", "no", "off")

_SKIP_FLAGS = {"corpus"}  # list-valued; set it in TOML or ASSISTANT_CORPUS


def _settings_parser() -> argparse.ArgumentParser:
    from .config import Settings

    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("settings (also ASSISTANT_<NAME> variables or assistant.toml keys)")
    group.add_argument("--config", metavar="FILE", help="TOML settings file (default: ./assistant.toml)")
    for name, field in Settings.model_fields.items():
        if name in _SKIP_FLAGS:
            continue
        flag = "--" + name.replace("_", "-")
        annotation = field.annotation
        if get_origin(annotation) is not None and type(None) in get_args(annotation):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        kwargs: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS, "help": field.description}
        if annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = {int: int, float: float, Path: Path}.get(annotation, str)
            kwargs["metavar"] = name.upper()
        group.add_argument(flag, **kwargs)
    return parent


def build_parser() -> argparse.ArgumentParser:
    from .readers import EXTENSIONS

    common = _settings_parser()
    parser = argparse.ArgumentParser(
        prog="assistant", description="Ask questions about your documents, offline, with cited answers."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", parents=[common], help=f"index files and folders ({' '.join(EXTENSIONS)})")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")

    p = sub.add_parser("ask", parents=[common], help="answer one question, citing the sources")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")

    sub.add_parser("chat", parents=[common], help="a terminal chat with history")

    p = sub.add_parser("models", parents=[common], help="list the GGUF models and verify their hashes")
    p.add_argument("--install", metavar="ALIAS", action="append", help="assemble a shipped model (default, small)")

    sub.add_parser("doctor", parents=[common], help="what a bug report needs: CPU, engine build, versions, "
                   "models, index; exits non-zero when something is broken")

    p = sub.add_parser("eval", parents=[common], help="score retrieval and answers on a JSONL question file")
    p.add_argument("file", type=Path)
    p.add_argument("--json-out", type=Path, help="also write the results as JSON")

    p = sub.add_parser("documents", parents=[common], help="list the indexed documents")
    p.add_argument("--remove", metavar="SOURCE", help="remove a document from the index")

    p = sub.add_parser("serve", parents=[common], help="start the browser chat (Gradio)")
    p.add_argument("--auth", metavar="USER:PASS", help="require this login for the page and its API")

    p = sub.add_parser(
        "api", parents=[common], help="serve an OpenAI-compatible API (/v1/chat/completions, cited answers)",
        description="Serve /v1/chat/completions, /v1/models, /v1/ingest and /v1/documents. It listens on "
                    "--host (127.0.0.1) and on --api-port (8000); a --port given here is used instead.",
    )
    p.add_argument("--auth-token", metavar="TOKEN", default=os.environ.get("ASSISTANT_AUTH_TOKEN"),
                   help="require 'Authorization: Bearer TOKEN' (default: $ASSISTANT_AUTH_TOKEN, else no token)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    from .config import Settings

    config = getattr(args, "config", None)
    if config and not Path(config).is_file():
        raise AssistantError(f"--config {config}: no such file")
    given = {name: getattr(args, name) for name in Settings.model_fields if hasattr(args, name)}
    try:
        return Settings.load(config, **given)
    except Exception as exc:  # pydantic's ValidationError names the field; keep only that
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            raise AssistantError(f"setting {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
        raise AssistantError(f"settings: {exc}") from exc


def main(argv: Optional[list[str]] = None) -> int:
    configure()
    if _loads_engine(sys.argv[1:] if argv is None else argv):
        from .engine import prestart

        prestart()  # it imports llama.cpp while this process imports pydantic and reads the settings
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
        return COMMANDS[args.command](args, settings)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# Commands ------------------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from .assistant import Assistant

    with Assistant(settings) as a:
        bar = tqdm(total=0, unit="file", desc="ingest", disable=None, file=sys.stderr)

        def progress(done: int, total: int, path: str) -> None:
            bar.total = total
            bar.set_postfix_str(Path(path).name[-40:], refresh=False)
            bar.update(done - bar.n)

        report = a.ingest(args.paths, progress=progress)
        bar.close()
    for reason in report.errors.values():
        print(f"failed: {reason}", file=sys.stderr)
    print(report.summary())
    return 1 if report.failed and not (report.added or report.updated or report.unchanged) else 0


def _print_stream(a, question: str, history: list, out=sys.stdout) -> Any:
    """Stream the answer, then, when the final answer differs from what streamed, the final one;
    then its sources."""
    from .types import Answer, Token

    answer = None
    thinking_shown = False
    for event in a.stream(question, history):
        if isinstance(event, Token):
            if event.kind == "answer":
                if thinking_shown:
                    print(file=sys.stderr)
                    thinking_shown = False
                out.write(event.text)
                out.flush()
            elif event.kind == "thinking":
                if not thinking_shown:
                    sys.stderr.write("[thinking] ")
                    thinking_shown = True
                sys.stderr.write(event.text)
                sys.stderr.flush()
            else:  # reset: what we printed as answer was thinking; say so rather than hide it
                out.write("\n[the text above was the model's thinking]\n")
        elif isinstance(event, Answer):
            answer = event
    out.write("\n")
    if answer.withheld:
        out.write("(withheld: the sources do not support this answer; no answer in the documents)\n")
    else:
        if answer.changed:
            out.write(f"checked against the sources: {answer.text}\n")
        if answer.refused:
            out.write("(no answer in the documents)\n")
    for c in answer.conflicts:
        out.write(f"  sources differ: {c.value} in [{c.n}] {c.source}: {c.passage}\n")
    for gone in answer.removed:
        out.write(f"  removed, not in the sources ({gone.reason}): {gone.sentence}\n")
    for c in answer.citations:
        snippet = c.text if len(c.text) <= 160 else c.text[:157] + "..."
        where = f"{c.location}, chars" if c.location else "chars"
        head = f" [{c.head}]" if c.head else ""  # whose words "I" and "we" are
        out.write(f"  [{c.n}] {c.source}{head} ({where} {c.start}-{c.end}): {snippet}\n")
    out.flush()
    return answer


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from .assistant import Assistant

    with Assistant(settings) as a:
        if args.json:
            print(json.dumps(a.ask(args.question).to_dict(), ensure_ascii=False, indent=2))
        else:
            _print_stream(a, args.question, [])
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from .assistant import Assistant

    print("Ask about your documents. /new starts over, /quit (or Ctrl-D) leaves.")
    history: list[tuple[str, str]] = []
    with Assistant(settings) as a:
        while True:
            try:
                question = input("\n> ").strip()
            except EOFError:
                print()
                return 0
            if question in ("/quit", "/exit"):
                return 0
            if question == "/new":
                history = []
                print("(new chat)")
                continue
            if not question:
                continue
            try:
                answer = _print_stream(a, question, history)
            except AssistantError as exc:
                print(f"error: {exc}", file=sys.stderr)
                continue
            history.append((question, answer.text))


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from . import models

    for alias in args.install or []:
        models.assemble(alias, settings.models_dir)
    rows = models.list_models(settings.models_dir)
    chosen = settings.model
    bad = 0
    for m in rows:
        mark = "*" if chosen in (m.alias, m.name, str(m.path)) else " "
        size = f"{m.size / 1e6:8.0f} MB" if m.size else "        -   "
        print(f"{mark} {m.alias or '-':8} {m.name:45} {size}  {m.status}")
        bad += m.status == "MISMATCH"
    print(f"models folder: {settings.models_dir}   (* = the model in use; set with --model or ASSISTANT_MODEL)")
    return 1 if bad else 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from .doctor import report

    return 1 if report(settings) else 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from .assistant import Assistant
    from .evaluation import evaluate, load_questions

    questions = load_questions(args.file)
    with Assistant(settings) as a:
        result = evaluate(a, questions, out=sys.stdout)
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))
    return 0


def cmd_documents(args: argparse.Namespace, settings: Settings) -> int:
    from .assistant import Assistant

    with Assistant(settings) as a:
        if args.remove:
            print(f"removed {args.remove} ({a.remove(args.remove)} chunks)")
            return 0
        docs = a.documents()
        for d in docs:
            print(f"{d['chunks']:5} chunks  {d['source']}")
        print(f"{len(docs)} documents")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from .ui import serve

    return serve(settings, auth=args.auth)


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from .server import serve_api

    # --port on this command line means this server; otherwise api_port (8000), not the UI's port.
    port = args.port if hasattr(args, "port") else settings.api_port
    return serve_api(settings, host=settings.host, port=port, auth_token=args.auth_token or None)


COMMANDS = {
    "ingest": cmd_ingest,
    "ask": cmd_ask,
    "chat": cmd_chat,
    "models": cmd_models,
    "doctor": cmd_doctor,
    "eval": cmd_eval,
    "documents": cmd_documents,
    "serve": cmd_serve,
    "api": cmd_api,
}

if __name__ == "__main__":
    sys.exit(main())
