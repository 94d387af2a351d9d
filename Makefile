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

.PHONY: setup run test lint fmt bench server deploy worker screenshots lock clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)  ## create .venv with the pinned dependency set

run: setup  ## run the pipeline on MovieLens-100K (fetched once) and publish to ./data
	$(BIN)/recsys run --data-dir $(DATA) $(ARGS)
	$(BIN)/recsys similar 50 -k 10 --data-dir $(DATA)

test: setup  ## the test suite (what CI runs)
	$(BIN)/python -m pytest -q $(ARGS)

lint: setup  ## ruff lint + format check (CI runs it beside the tests)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup  ## benchmarks against raw-library references (prints ratio tables)
	$(BIN)/python bench/run.py $(ARGS)

server: setup  ## a local Prefect server and UI on http://127.0.0.1:4200
	$(BIN)/prefect server start --host 127.0.0.1

deploy: setup  ## create the process work pool and register prefect.yaml's deployments
	$(BIN)/prefect work-pool create recsys-process --type process --overwrite
	RECSYS_PROJECT_DIR=$(CURDIR) $(BIN)/python -m recsys.deploy --all  # = prefect deploy, 3.8.8 fix

worker: setup  ## a worker that runs scheduled deployments
	$(BIN)/prefect worker start --pool recsys-process

screenshots: setup  ## refresh docs/img/*.png from a real local Prefect server (needs chromium)
	BIN=$(BIN) docs/screenshots.sh

lock:  ## re-resolve the pinned set (then commit constraints.txt)
	rm -rf /tmp/recsys-lock && $(PYTHON) -m venv /tmp/recsys-lock
	/tmp/recsys-lock/bin/pip install -q -e '.[dev]' 'fastapi<0.155'
	/tmp/recsys-lock/bin/pip freeze --exclude-editable | grep -v '^recsys' > constraints.body
	{ sed -n '1,3p' constraints.txt; cat constraints.body; } > constraints.new && rm constraints.body
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
