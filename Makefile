# pcpu-verify: verification harness for mm/percpu.c (Linux 6.12, Debian linux-source-6.12)
PY_BOOT ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
SEED    ?= 0

.PHONY: all venv test test-deep verify lint clean bench kernel-oracle replay validate-patch bench-tables mutation mutation-report mutation-witness mutation-reach time-to-detect c-agreement bench-c trace proofs proofs-all-sizes proofs-chunk proofs-chunk-loop proofs-chunk-fit proofs-chunk-free proofs-chunk-alloc proofs-refresh-loop bench-proofs crosshair

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

# make validate-patch PATCH=variants/good/F2-chunk-hint-end-offset.patch
validate-patch: $(STAMP)
	$(PY) -m tools.cli validate-patch $(PATCH)

verify: $(STAMP) kernel-oracle
	$(PY) -m tools.verify --seed $(SEED)

# port vs C, 10^6 operations on PAGE_SHIFT 12 and 6, one process each (several minutes)
c-agreement: $(STAMP) kernel-oracle
	$(PY) -m tools.c_agreement --ops $(or $(OPS),1000000) --seed $(SEED)

# ops/s of the kernel's C and of the port on one stream
bench-c: $(STAMP) kernel-oracle
	$(PY) -m tools.bench_c_vs_port

# replay the real tracepoint log through the port and the model
trace: $(STAMP)
	$(PY) -m tools.cli trace $$($(PY) -m tools.shared_data)

lint: $(STAMP)
	$(VENV)/bin/ruff check model impl impl_areamap properties tools tests oracle
	$(VENV)/bin/mypy model impl impl_areamap properties tools oracle tests

bench: $(STAMP)
	$(PY) -m tools.bench_machine

# the design documents' tables, reproduced (docs/bench/tables.md + PNGs); N objects per experiment
N ?= 10000
bench-tables: $(STAMP)
	$(PY) -m tools.bench_tables --n $(N) --out docs/bench

clean:
	rm -rf $(VENV) build

# mutation score of impl/hints.py + impl/search.py: cosmic-ray in a scratch copy (build/mutation), never the tree
MUT := build/mutation
mutation: $(STAMP)
	rm -rf $(MUT) && mkdir -p $(MUT)/build
	git ls-files -z | xargs -0 cp --parents -t $(MUT)
	cp -r build/oracle $(MUT)/build/ && ln -s ../../ksrc $(MUT)/build/ksrc
	cd $(MUT) && ../../$(VENV)/bin/cosmic-ray init ../../docs/mutation/cr.toml cr.sqlite
	cd $(MUT) && ../../$(VENV)/bin/cr-filter-operators cr.sqlite ../../docs/mutation/cr.toml
	cd $(MUT) && ../../$(VENV)/bin/cosmic-ray exec ../../docs/mutation/cr.toml cr.sqlite
	$(PY) -m tools.mutation_report $(MUT)/cr.sqlite

mutation-report: $(STAMP)
	$(PY) -m tools.mutation_report $(MUT)/cr.sqlite

# evidence for the surviving mutants: how often each differing state is reached, each mutant vs the C
mutation-witness: $(STAMP)
	$(PY) -m tools.mutation_witness

# exhaustive bounded reachability for the survivors (docs/mutation/reach.txt; about 20 minutes)
REACH_BOUNDS := "4 2 10" "4 3 7" "8 2 6" "16 2 4" "4 3 6 --holed" "8 2 5 --holed"
mutation-reach: $(STAMP)
	@for b in $(REACH_BOUNDS); do set -- $$b; \
	  $(PY) -m tools.mutation_reach --block-bits $$1 --blocks $$2 --max-depth $$3 $$4 || exit 1; done

time-to-detect: $(STAMP)
	$(PY) -m tools.time_to_detect --seeds 0-4 --steps 800

# Z3 proofs of the hint lemmas on the port's own code (properties/proofs/README.md)
# make proofs [LEMMA=block_update] [BITS=8] [BUDGET=60]
BITS   ?= 8
BUDGET ?= 60
proofs: $(STAMP)
	$(PY) -m properties.proofs $(if $(LEMMA),--lemma $(LEMMA)) --block-bits $(BITS) --budget $(BUDGET)

# the six block lemmas for every block size (properties/proofs/parametric.py)
proofs-all-sizes: $(STAMP)
	$(PY) -m properties.proofs.parametric --budget $(or $(PBUDGET),600)

# the chunk lemmas that finish (properties/proofs/README.md, docs/bench/proofs-chunk.txt; about 5 minutes)
proofs-chunk: $(STAMP)
	$(PY) -m properties.proofs.parametric --lemma chunk_refresh_hint --budget 600
	$(PY) -m properties.proofs.parametric --lemma chunk_find_fit --budget 300
	$(PY) -m properties.proofs.fitfamilies --blocks 4 --budget 900
	$(PY) -m properties.proofs.loopinv --blocks 4 --block-bits 64 --budget 1500

# pcpu_find_block_fit()'s two rows by families of paths (properties/proofs/fitfamilies.py): four blocks
# of every size (about 2.5 minutes); FIT_BITS=64 for one block size, BLOCKS=2..4
proofs-chunk-fit: $(STAMP)
	$(PY) -m properties.proofs.fitfamilies --blocks $(or $(BLOCKS),4) \
		$(if $(FIT_BITS),--block-bits $(FIT_BITS)) --budget $(or $(PBUDGET),900)

# chunk_hint_free with pcpu_block_update() and the walk as proved summaries (freefamilies.py): two
# blocks of 8 bits (about 35 s); BLOCKS=4 FREE_BITS=64 in about 2 minutes; FREE_BITS=all for every size
# (BLOCKS=4 FREE_BITS=all PBUDGET=2500: about 3 minutes)
proofs-chunk-free: $(STAMP)
	$(PY) -m properties.proofs.freefamilies --blocks $(or $(BLOCKS),2) \
		$(if $(filter all,$(FREE_BITS)),,--block-bits $(or $(FREE_BITS),8)) --budget $(or $(PBUDGET),600)

# chunk_hint_alloc with the block rescan and the walk as proved summaries (allocfamilies.py): four
# blocks of 64 bits (about 1 minute); ALLOC_BITS=all for every size; ANYWHERE=1 drops the placement
# assumption (left_free then has the reachability question's model)
proofs-chunk-alloc: $(STAMP)
	$(PY) -m properties.proofs.allocfamilies --blocks $(or $(BLOCKS),4) \
		$(if $(filter all,$(ALLOC_BITS)),,--block-bits $(or $(ALLOC_BITS),64)) --budget $(or $(PBUDGET),600) \
		$(if $(ANYWHERE),--anywhere)

# pcpu_block_refresh_hint()'s rescan by a loop invariant, every block size (refreshloop.py; about 3 s)
proofs-refresh-loop: $(STAMP)
	$(PY) -m properties.proofs.refreshloop --budget $(or $(PBUDGET),300)

# pcpu_chunk_refresh_hint() by a loop invariant (properties/proofs/loopinv.py): four blocks of 64 bits
# (about 1.5 minutes); LOOP_BITS=all for every block size (four blocks: about 3 minutes and 1073M units,
# a budget of 3000 to spare; docs/bench/proofs-chunk-loop.txt); BOUNDS=1 proves the bounds contract with
# full_scan false instead (walkbounds.py; four blocks of 64 bits in about 1.5 minutes)
proofs-chunk-loop: $(STAMP)
	$(PY) -m properties.proofs.loopinv --blocks $(or $(BLOCKS),4) \
		$(if $(filter all,$(LOOP_BITS)),,--block-bits $(or $(LOOP_BITS),64)) \
		--budget $(or $(PBUDGET),$(if $(filter all,$(LOOP_BITS)),3000,1500)) $(if $(BOUNDS),--bounds)

bench-proofs: $(STAMP)
	$(PY) -m tools.bench_proofs --budget $(BUDGET)

# CrossHair contracts on the pure helpers, and model vs port on a block's largest free run
crosshair: $(STAMP)
	$(VENV)/bin/crosshair check properties/proofs/contracts.py --analysis_kind PEP316 --per_condition_timeout 2
	$(VENV)/bin/crosshair diffbehavior properties.proofs.contracts.model_largest_run \
		properties.proofs.contracts.port_largest_run --per_condition_timeout 10
