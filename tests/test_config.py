"""One Settings object: defaults < TOML file < ASSISTANT_* variables < arguments (CLI flags)."""

import pytest

from assistant import Settings
from assistant.cli import _settings, build_parser
from assistant.config import PROJECT_ROOT
from assistant.errors import AssistantError


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in list(__import__("os").environ):
        if name.startswith("ASSISTANT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_defaults_point_into_the_project(clean_env):
    s = Settings()
    assert s.index_dir == PROJECT_ROOT / "index" and s.corpus == [PROJECT_ROOT / "articles"]
    assert (s.model, s.host, s.temperature) == ("default", "127.0.0.1", 0.0)


def test_toml_then_environment_then_arguments(clean_env, tmp_path):
    (tmp_path / "assistant.toml").write_text('top_k = 7\nmodel = "small"\nn_ctx = 8192\ncorpus = ["a", "b"]\n')
    assert (Settings().top_k, Settings().model, Settings().n_ctx) == (7, "small", 8192)
    assert [p.name for p in Settings().corpus] == ["a", "b"]
    clean_env.setenv("ASSISTANT_TOP_K", "9")
    assert Settings().top_k == 9 and Settings().model == "small"
    assert Settings(top_k=2).top_k == 2
    args = build_parser().parse_args(["ask", "q?", "--top-k", "3", "--no-check-citations"])
    s = _settings(args)
    assert (s.top_k, s.check_citations, s.model) == (3, False, "small")


def test_an_explicit_config_file_and_bad_values_name_the_field(clean_env, tmp_path):
    cfg = tmp_path / "other.toml"
    cfg.write_text("temperature = 0.7\n")
    clean_env.setenv("ASSISTANT_CONFIG", str(cfg))
    assert Settings().temperature == 0.7
    with pytest.raises(AssistantError, match="top_k"):
        _settings(build_parser().parse_args(["ask", "q?", "--top-k", "0"]))
    with pytest.raises(AssistantError, match="nope.toml"):
        _settings(build_parser().parse_args(["ask", "q?", "--config", str(tmp_path / "nope.toml")]))


def test_replace_keeps_explicit_values_over_the_environment(clean_env):
    clean_env.setenv("ASSISTANT_TOP_K", "9")
    assert Settings().replace(model="small").top_k == 9
    assert Settings(top_k=3).replace(model="small").top_k == 3


def test_config_flag_reads_the_file_without_touching_the_environment(clean_env, tmp_path):
    import os

    cfg = tmp_path / "other.toml"
    cfg.write_text("temperature = 0.7\n")
    s = _settings(build_parser().parse_args(["ask", "q?", "--config", str(cfg)]))
    assert s.temperature == 0.7 and "ASSISTANT_CONFIG" not in os.environ
    assert Settings().temperature == 0.0  # the next Settings reads the default file again


def test_importing_the_package_changes_nothing_process_wide_and_configure_does():
    import subprocess
    import sys

    code = ("import os; before = dict(os.environ)\n"
            "import assistant, assistant.ui, assistant.server, assistant.cli, assistant.store, assistant.embedding\n"
            "assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())\n"
            "from assistant.config import configure; configure()\n"
            "assert os.environ['HF_HUB_OFFLINE'] == '1' and os.environ['OMP_WAIT_POLICY'] == 'PASSIVE'\n"
            "assert os.environ['GRADIO_ANALYTICS_ENABLED'] == 'False' and os.environ['ANONYMIZED_TELEMETRY'] == 'False'\n")
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("HF_HUB_OFFLINE", "OMP_WAIT_POLICY", "GRADIO_ANALYTICS_ENABLED", "ANONYMIZED_TELEMETRY")}
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
