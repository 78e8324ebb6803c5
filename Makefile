# pcpu-verify: verification harness for mm/percpu.c (Linux 6.12, Debian linux-source-6.12)
PY_BOOT ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
SEED    ?= 0

.PHONY: all venv test test-deep verify lint clean bench kernel-oracle replay proofs bench-proofs crosshair

all: verify

$(STAMP): pyproject.toml
	$(PY_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

kernel-oracle: $(STAMP)
	$(PY) -m oracle.build

test: $(STAMP)
	$(PY) -m pytest -q

test-deep: $(STAMP)
	$(PY) -m pytest -q -m deep

# make replay FILE=corpus/F2-chunk-contig-stale-after-free.litmus
replay: $(STAMP)
	$(PY) -m tools.cli replay $(FILE)

verify: $(STAMP)
	$(PY) -m tools.verify --seed $(SEED)

lint: $(STAMP)
	$(VENV)/bin/ruff check model impl properties tools tests
	$(VENV)/bin/mypy model impl properties tools

bench: $(STAMP)
	$(PY) -m tools.bench_machine

clean:
	rm -rf $(VENV) build

# Z3 proofs of the hint lemmas on the port's own code (properties/proofs/README.md)
# make proofs [LEMMA=block_update] [BITS=8] [BUDGET=60]
BITS   ?= 8
BUDGET ?= 60
proofs: $(STAMP)
	$(PY) -m properties.proofs $(if $(LEMMA),--lemma $(LEMMA)) --block-bits $(BITS) --budget $(BUDGET)

bench-proofs: $(STAMP)
	$(PY) -m tools.bench_proofs --budget $(BUDGET)

# CrossHair contracts on the pure helpers, and model vs port on a block's largest free run
crosshair: $(STAMP)
	$(VENV)/bin/crosshair check properties/proofs/contracts.py --analysis_kind PEP316 --per_condition_timeout 2
	$(VENV)/bin/crosshair diffbehavior properties.proofs.contracts.model_largest_run \
		properties.proofs.contracts.port_largest_run --per_condition_timeout 10
