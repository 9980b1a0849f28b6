# dtsen — quick start: `make run` (sample batch) and `make test` (tests + type check).
SHELL := /bin/bash
NODE_MODULES_STAMP := node_modules/.package-lock.json
SIZE ?= 1000000
# DuckDB memory limit of the benchmark batch (spills to disk beyond it); empty: DuckDB's default, 16GB from 5M persons
MEMORY_LIMIT ?=
# DuckDB threads of the benchmark batch; several (THREADS=1,2) run it once per count and print each stage's parallel efficiency
THREADS ?= 2
# The reference workload the batch's wall time is measured against, in the same run (empty: no ratio)
CALIB ?= ../shared/bench/calib.mjs
# Population sizes of make bench-scale, each run with --memory-limit SCALE_MEMORY_LIMIT
SCALE_SIZES ?= 1000000 3000000 10000000 30000000
SCALE_MEMORY_LIMIT ?= 16GB
# The population profile of make bench (empty: the generator's default) and of make bench-scale (src/generate/profiles.ts)
PROFILE ?=
SCALE_PROFILE ?=

.PHONY: install build browser run validate test typecheck bench bench-scale bench-series bench-quality bench-review clean sample docs

# Installs exactly what package-lock.json pins, when it changed or was never installed.
$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(NODE_MODULES_STAMP)

install: $(NODE_MODULES_STAMP)

# The compiled CLI (dist/), rebuilt when a source, a tsconfig or the dependencies changed.
DIST_STAMP := dist/.built
$(DIST_STAMP): $(NODE_MODULES_STAMP) package.json tsconfig.json tsconfig.build.json $(shell find src schemas -name '*.ts') $(wildcard src/review/ui/*)
	npm run build --silent
	@touch $(DIST_STAMP)

build: $(DIST_STAMP)

# The report's browser test opens report.html in Debian's headless Chromium (installed as root when missing).
browser:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

run: build
	node bin/dtsen.js run --config pipelines/sample.json

validate: build
	node bin/dtsen.js validate --config pipelines/sample.json

typecheck: install
	npx tsc -p tsconfig.json --noEmit

test: build browser
	npx tsc -p tsconfig.json --noEmit
	node test/run-tests.mjs

bench: build
	npx tsx bench/run.ts --persons $(SIZE) $(if $(PROFILE),--profile $(PROFILE)) --threads $(THREADS) $(if $(MEMORY_LIMIT),--memory-limit $(MEMORY_LIMIT)) $(if $(CALIB),--calib $(abspath $(CALIB)))
	$(MAKE) bench-series

# Growth with the population: per size wall time, µs per record (per stage too), peak RSS, spill, pairs per record,
# precision and recall (bench/scale.ts).
bench-scale: build
	npx tsx bench/scale.ts --sizes "$(SCALE_SIZES)" $(if $(SCALE_PROFILE),--profile $(SCALE_PROFILE)) --memory-limit $(SCALE_MEMORY_LIMIT) --threads $(THREADS) $(if $(CALIB),--calib $(abspath $(CALIB)))

# A living register: MONTHS monthly snapshots of one population, one batch a month continuing the previous one;
# id stability, the change log against the truth, wall time per month (bench/series.ts).
SERIES_SIZE ?= 100000
MONTHS ?= 6
bench-series: build
	npx tsx bench/series.ts --persons $(SERIES_SIZE) --months $(MONTHS)

# Linkage quality on every population profile of the zoo (src/generate/profiles.ts) and on random profiles.
QUALITY_SIZE ?= 100000
RANDOM_SEEDS ?=
bench-quality: build
	npx tsx bench/quality.ts --persons $(QUALITY_SIZE) $(if $(RANDOM_SEEDS),--random-seeds $(RANDOM_SEEDS),--random 3)

# The review app over a batch of SIZE persons: app start, page open and next pair after a decision, measured in
# headless Chromium (bench/review.ts); screenshots of each view to SHOTS.
SHOTS ?= /tmp/review-shots
bench-review: build browser
	npx tsx bench/review.ts --persons $(SIZE) --shots $(SHOTS)

sample: build
	node bin/dtsen.js generate --persons 3000 --seed 42 --out data-samples/sample

# Rewrites the README sections generated from the code (data dictionary, survivorship and family rules, config and
# mapping keys) and the JSON Schemas schemas/config.schema.json and schemas/mapping.schema.json.
docs: install
	npx tsx scripts/update-readme.ts
	npx tsx scripts/update-architecture.ts

clean:
	rm -rf out bench/cache dist
