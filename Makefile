# The two commands of the README, and the fast one for daily work.
#   make demo       broker, worker, public site and example incidents on 127.0.0.1
#   make test       every test tier, fastest first, stopping at the first failing tier
#   make test-fast  lint and the pure tier (no broker)
#   make catalogs   compile the gettext catalogs (catalogs-extract, catalogs-update: after editing words)
VENV ?= .venv
PY := $(VENV)/bin/python
LOCALE := alertcast/locale
CATALOGS := $(patsubst %.po,%.mo,$(wildcard $(LOCALE)/*/LC_MESSAGES/alertcast.po))

.PHONY: demo test test-fast install clean catalogs catalogs-extract catalogs-update

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(VENV)/bin/alertcast communes install
	touch $@

install: $(VENV)/.installed $(CATALOGS)

# A compiled catalog is built, never committed: remade whenever its .po is newer.
$(LOCALE)/%/LC_MESSAGES/alertcast.mo: $(LOCALE)/%/LC_MESSAGES/alertcast.po | $(VENV)/.installed
	$(VENV)/bin/pybabel -q compile -D alertcast -i $< -o $@

catalogs: $(CATALOGS)

# The messages of the sources (babel.cfg) into the template, then into each language.
catalogs-extract: $(VENV)/.installed
	$(VENV)/bin/pybabel -q extract -F babel.cfg -o $(LOCALE)/alertcast.pot --project=alertcast --no-wrap -c "Translators:" .

catalogs-update: catalogs-extract
	$(VENV)/bin/pybabel -q update -D alertcast -d $(LOCALE) -i $(LOCALE)/alertcast.pot --no-wrap

demo: $(VENV)/.installed $(CATALOGS)
	$(VENV)/bin/alertcast demo $(DEMO_ARGS)

test: $(VENV)/.installed $(CATALOGS)
	VENV=$(VENV) scripts/test-tiers.sh

test-fast: $(VENV)/.installed $(CATALOGS)
	VENV=$(VENV) scripts/test-tiers.sh lint pure

clean:
	rm -rf $(VENV) .alertcast .pytest_cache .mypy_cache .ruff_cache
