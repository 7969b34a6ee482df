# The two commands of the README, and the fast one for daily work.
#   make demo       broker, worker, public site and example incidents on 127.0.0.1
#   make test       every test tier, fastest first, stopping at the first failing tier
#   make test-fast  lint and the pure tier (no broker)
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-fast install clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(VENV)/bin/alertcast communes install
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/alertcast demo $(DEMO_ARGS)

test: $(VENV)/.installed
	VENV=$(VENV) scripts/test-tiers.sh

test-fast: $(VENV)/.installed
	VENV=$(VENV) scripts/test-tiers.sh lint pure

clean:
	rm -rf $(VENV) .alertcast .pytest_cache .mypy_cache .ruff_cache
