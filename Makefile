# Two commands for a newcomer on a fresh machine:
#   make demo   set everything up, then run the main job (see README.md)
#   make test   set everything up, then run the whole test suite
#
# Everything lands inside this folder: .venv/ (Python), node_modules/ (the proxy).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of torch is plenty for interviews on CPU kernels and keeps the install small where
# the package index offers one; override with e.g. TORCH='torch>=2.2' on other machines.
TORCH ?= torch==2.13.0
# the candidate's JupyterLab extension: TypeScript built with npm (JupyterLab's extension template layout)
LAB := extension/candidate-lab
LAB_BUILD := $(LAB)/labextension
LAB_SOURCES := $(wildcard $(LAB)/src/*.ts $(LAB)/style/*) $(LAB)/tsconfig.json
PACKAGE_SOURCES := $(shell find mlinterview scenarios extension kernels graders -type f -not -path '*/__pycache__/*' -not -path '$(LAB)/*' 2>/dev/null) pyproject.toml setup.py
PYTEST_ARGS ?=
# two workers: the live-server tests in two lanes, each in turn on one worker; the rest between
# them (tests/conftest.py)
PYTEST_WORKERS ?= -n 2 --dist loadscope --no-loadscope-reorder
# The candidate runtime (kernels/runtime.py): under root, candidates' servers and kernels run as
# their own users, who cannot reach a Python inside /root (pyenv's); so root's setup also builds
# this environment from the system's Python at a prefix everyone can traverse.
RUNTIME ?= /opt/mlinterview/runtime
RUNTIME_PYTHON ?= /usr/bin/python3
ifeq ($(shell id -u),0)
RUNTIME_TARGET := $(RUNTIME)/.installed
endif

.PHONY: setup runtime demo test calibrate browser git clean

setup: git $(VENV)/.installed $(VENV)/.labextension node_modules/.installed $(RUNTIME_TARGET)

runtime: $(RUNTIME)/.installed

$(RUNTIME)/.installed: $(PACKAGE_SOURCES) $(LAB_BUILD)/package.json
	test -x $(RUNTIME)/bin/python || $(RUNTIME_PYTHON) -m venv $(RUNTIME)
	$(RUNTIME)/bin/python -m pip install --quiet --upgrade pip
	$(RUNTIME)/bin/python -m pip install --quiet "$(TORCH)"
	# a regular install (not editable) of a wheel built once: the runtime must not depend on this
	# checkout's location, and a changed source must replace the installed copy
	rm -rf $(RUNTIME)/.wheel && $(RUNTIME)/bin/python -m pip wheel --quiet --no-deps --wheel-dir $(RUNTIME)/.wheel .
	$(RUNTIME)/bin/python -m pip install --quiet $(RUNTIME)/.wheel/mlinterview-*.whl
	$(RUNTIME)/bin/python -m pip install --quiet --no-deps --force-reinstall $(RUNTIME)/.wheel/mlinterview-*.whl
	$(RUNTIME)/bin/mlinterview kernels install --prefix $(RUNTIME) --with-server-extension
	# readable and executable by everyone, except the packs' private parts (the hub's user only)
	chmod -R go+rX,go-w $(RUNTIME)
	chmod 0700 $(RUNTIME)/share/mlinterview/scenarios/*/private
	touch $@

# the prebuilt labextension, which the wheel ships (setup.py); built against the JupyterLab the venv has
$(LAB_BUILD)/package.json: $(LAB_SOURCES) $(LAB)/node_modules/.installed $(VENV)/.python
	cd $(LAB) && npx tsc
	rm -rf $(LAB_BUILD)
	# against the core package of the JupyterLab installed here (no download of JupyterLab's metadata)
	$(BIN)/jupyter-builder build --core-package-file "$$($(BIN)/python -c 'import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), "staging", "package.json"))')" $(LAB)
	test -f $@

$(LAB)/node_modules/.installed: $(LAB)/package.json $(LAB)/package-lock.json
	cd $(LAB) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# editable installs skip setup.py's data_files: the labextension goes into the venv by hand
$(VENV)/.labextension: $(LAB_BUILD)/package.json $(VENV)/.installed
	rm -rf $(VENV)/share/jupyter/labextensions/mlinterview-candidate
	mkdir -p $(VENV)/share/jupyter/labextensions
	cp -R $(LAB_BUILD) $(VENV)/share/jupyter/labextensions/mlinterview-candidate
	touch $@

# the interpreter and JupyterLab, which the labextension's build needs before the package itself
$(VENV)/.python: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)" jupyterlab
	touch $@

$(VENV)/.installed: $(PACKAGE_SOURCES) | $(LAB_BUILD)/package.json
	# strict editable mode: the import tree is exactly what a wheel would install, so the
	# scenario packs' private parts stay off the import path (see setup.py)
	$(BIN)/python -m pip install --quiet --config-settings editable_mode=strict -e .
	# editable installs skip setup.py's data_files: put the kernelspecs and the server extension's config into the venv
	$(BIN)/mlinterview kernels install --prefix $(VENV) --with-server-extension
	touch $@

# what only the tests need (pyproject's 'test' extra: pytest, Playwright, ...): not for a demo
$(VENV)/.test-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['test'], sep='\n')" > $(VENV)/test-requirements.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/test-requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "The browser tests need Debian's Chromium: run 'sudo apt-get install chromium'" >&2; exit 1; fi

# git: a pack may ship its scaffold as a git repository, built when a workspace is materialized
# (scenarios/git_scaffold.py; the merge pack), and its candidates run git in cells.
git:
	@if command -v git >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git >/dev/null; \
	else echo "warning: git is missing, and the merge pack needs it: run 'sudo apt-get install git'" >&2; fi

# The main job: the interview hub on http://127.0.0.1:8000/ (settings: hub.example.toml).
demo: setup
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(BIN)/mlinterview hub --demo-interview churn

calibrate: setup
	$(BIN)/mlinterview scenarios calibrate $(SCENARIO) --update-pack

test: setup $(VENV)/.test-installed browser
	# -P: the checkout's folders must not shadow the installed package (mlinterview.* maps them)
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(BIN)/python -P -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) node_modules build *.egg-info $(LAB)/node_modules $(LAB)/lib $(LAB_BUILD) $(LAB)/tsconfig.tsbuildinfo
