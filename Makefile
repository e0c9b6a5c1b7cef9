# stockflow — one command to try it, one to test it, on a fresh Debian machine with Swift.
#   make demo   installs what it needs, builds, runs nightly-inventory on the bundled fixtures
#   make test   installs what it needs, builds once, runs every test
#   make bench  1M-order benchmark against the pandas baseline (see bench/run.sh)
#   make bench-serve  stockflow serve vs Django REST framework under wrk (see bench/serve.sh)
#   make fuzz   runs each libFuzzer target FUZZ_SECONDS (default 60); fails on a crash

SHELL := /bin/bash
APT_PACKAGES := pkg-config libsqlite3-dev libxlsxwriter-dev sqlite3 unzip time python3-venv postgresql libpq-dev \
                libcurl4-openssl-dev openssl chromium chromium-driver fonts-dejavu-core libreoffice-calc poppler-utils tzdata
SWIFT ?= swift
OUT ?= out/demo
AS_OF ?= $(shell date +%F)
VENV := .venv-test
JOBS ?= $(shell nproc)

.PHONY: demo test deps build build-tests swift-tests acceptance bench bench-migrate bench-serve docs coverage fuzz clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v $(SWIFT) >/dev/null || { echo "swift is not on PATH (expected the toolchain at /opt/swift/usr/bin)"; exit 1; }

build: deps
	$(SWIFT) build --product stockflow

demo: build
	@rm -rf $(OUT)
	.build/debug/stockflow validate pipelines/nightly-inventory.yml
	.build/debug/stockflow run pipelines/nightly-inventory.yml --out $(OUT) --as-of $(AS_OF)
	@echo; echo "demo outputs:"; ls -1 $(OUT) | sed 's|^|  $(OUT)/|'
	@echo; echo "workbook: $(OUT)/inventaire-$(AS_OF).xlsx"; echo "report:   $(OUT)/rapport-$(AS_OF).html"; \
	  echo "digest:   $(OUT)/outbox/nightly-inventory-$(AS_OF).eml (no STOCKFLOW_SMTP_URL set, so written instead of sent)"

$(VENV)/.installed: tests/acceptance/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r tests/acceptance/requirements.txt
	touch $@

build-tests: deps
	$(SWIFT) build --build-tests

# The PostgreSQL tests talk to a private server (scripts/pg-test-server.sh) that with-postgres.sh
# starts on a free loopback port, exports as STOCKFLOW_TEST_PG_URL and stops afterwards, even on failure;
# the sharded ones (test_sharded.py) to a coordinator and two shards that with-shards.sh starts likewise.
swift-tests: build-tests
	scripts/with-postgres.sh $(SWIFT) test --skip-build --parallel --num-workers $(JOBS)

acceptance: build-tests $(VENV)/.installed
	scripts/with-shards.sh scripts/with-postgres.sh $(VENV)/bin/python -m pytest -q tests/acceptance

test: build-tests $(VENV)/.installed
	scripts/with-shards.sh scripts/with-postgres.sh bash -c '$(SWIFT) test --skip-build --parallel --num-workers $(JOBS) && $(VENV)/bin/python -m pytest -q tests/acceptance'

# Line coverage of Sources/ by the Swift and acceptance tests together (fails under 90 %).
coverage: deps $(VENV)/.installed
	scripts/coverage.sh

bench: deps
	bench/run.sh

bench-migrate: deps
	@dpkg -s pgloader >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq pgloader >/dev/null; }
	bench/migrate.sh

# stockflow serve vs Django REST framework + simplejwt under gunicorn (bench/serve.sh), never beside another benchmark.
bench-serve: deps
	@for p in wrk curl; do dpkg -s $$p >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get update -qq; DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$p >/dev/null; }; done
	flock /tmp/stockflow-bench.lock bench/serve.sh

# libFuzzer targets (fuzz/): the CSV reader and extract, the pipeline loader (validate), the cron parser
# and the expression parser, each run FUZZ_SECONDS from fuzz/corpus/<target>/; fails on a crash,
# printing the reproducer. Built apart, in .build-fuzz, with --sanitize=fuzzer --sanitize=address.
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFT=$(SWIFT) fuzz/run.sh

docs: build
	.build/debug/stockflow docs > docs/pipelines.md

clean:
	rm -rf .build out $(VENV)
