# Every target sets itself up: a fresh machine needs only python3 (3.11) and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DATA   ?= data
ARGS   ?=
export PYTHONHASHSEED ?= 0
export GX_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 180

.PHONY: setup run serve test lint fmt bench server deploy worker dev screenshots lock clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)  ## create .venv with the pinned dependency set

run: setup  ## run the pipeline on MovieLens-100K (fetched once) and publish to ./data
	$(BIN)/recsys run --data-dir $(DATA) $(ARGS)
	$(BIN)/recsys similar 50 -k 10 --data-dir $(DATA)

serve: setup  ## the HTTP API over ./data's published model on http://127.0.0.1:8000 (Ctrl-C stops)
	$(BIN)/recsys serve --data-dir $(DATA) $(ARGS)

test: setup  ## the test suite (what CI runs)
	$(BIN)/python -m pytest -q $(ARGS)

lint: setup  ## ruff lint + format check (CI runs it beside the tests)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup  ## benchmarks against raw-library references (prints ratio tables; ARGS=serving: the HTTP API)
	$(BIN)/python bench/run.py $(ARGS)

# deploy and worker talk to $PREFECT_API_URL, or to the server `make server` starts.
API := $(or $(PREFECT_API_URL),http://127.0.0.1:4200/api)
CHECK_API = $(BIN)/python -c "import urllib.request; urllib.request.urlopen('$(API)/health', timeout=5)" \
	2>/dev/null || { echo "error: no Prefect API at $(API); start one with 'make server' (another shell) or set PREFECT_API_URL"; exit 1; }

server: setup  ## a local Prefect server and UI on http://127.0.0.1:4200
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/prefect server start --host 127.0.0.1 --port 4200

deploy: setup  ## create the process work pool and register every deployment of prefect.yaml
	@$(CHECK_API)
	PREFECT_API_URL=$(API) $(BIN)/prefect work-pool create recsys-process --type process --overwrite
	PREFECT_API_URL=$(API) $(BIN)/prefect --no-prompt deploy --all

worker: setup  ## a process worker that runs the scheduled and manual runs of the deployments
	@$(CHECK_API)
	PREFECT_API_URL=$(API) $(BIN)/prefect worker start --pool recsys-process

dev: setup  ## one process serving every flow as a `dev` deployment (UI-triggered runs, no worker)
	@$(CHECK_API)
	PREFECT_API_URL=$(API) $(BIN)/python flows/dev.py

screenshots: setup  ## refresh docs/img/*.png from a real local Prefect server (needs chromium)
	BIN=$(BIN) docs/screenshots.sh

lock:  ## re-resolve the pinned set (then commit constraints.txt)
	rm -rf /tmp/recsys-lock && $(PYTHON) -m venv /tmp/recsys-lock
	/tmp/recsys-lock/bin/pip install -q -e '.[dev]'
	/tmp/recsys-lock/bin/pip freeze --exclude-editable | grep -v '^recsys' > constraints.body
	{ sed -n '1,3p' constraints.txt; cat constraints.body; } > constraints.new && rm constraints.body
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
