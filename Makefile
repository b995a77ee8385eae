# The two commands of README.md: `make run` and `make test`. Both set everything up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test reliability images lint bench bench-quick broker-stop clean

$(BIN)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

run: $(BIN)/.installed  ## broker (local Kafka unless KAFKA_BOOTSTRAP_SERVERS) + worker + webhook
	$(BIN)/at-stream dev

test: $(BIN)/.installed  ## the whole suite, integration tests on a real broker included
	$(BIN)/ruff check app at_stream tests bench examples
	$(BIN)/mypy
	ci/test-paths  # local-launcher path, and the container path when Docker can run

reliability: $(BIN)/.installed  ## the long runs of docs/RELIABILITY.md (about 30 min; not in make test)
	$(BIN)/python -m pytest -m long -s

images: $(BIN)/.installed  ## base, Kafka and at-stream images (needs a Docker engine: DOCKER_HOST)
	ci/with-docker images/build.sh

bench: $(BIN)/.installed
	$(BIN)/python -m bench

bench-quick: $(BIN)/.installed
	$(BIN)/python -m bench --quick

broker-stop: $(BIN)/.installed
	$(BIN)/at-stream broker stop

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache
