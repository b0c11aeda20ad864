# Junction: `make run` to start it with the bundled routes.yaml, `make test` to test everything.
GO      ?= go
BIN     := bin/junction
FUZZTIME ?= 15s

.PHONY: build run check test test-race test-all fuzz lint bench deps clean screenshots

build:
	$(GO) build -o $(BIN) ./cmd/junction

# The demo receiver stands for the Care Gateway's FLIS, SEI2 and RKKP (routes.yaml): it
# answers 201 and logs what it got; it stops with Junction.
run: build
	@echo "make run: starting the demo receiver on 127.0.0.1:9090 (FLIS, SEI2, RKKP), then Junction"
	./$(BIN) demo-receiver -listen 127.0.0.1:9090 & trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
	./$(BIN) serve -config routes.yaml

check: build
	./$(BIN) check -config routes.yaml

# Everything CI runs: formatting and vet, the engine and store under the race detector,
# every other test (end-to-end ones start the real binary on loopback), short fuzz runs.
test: deps lint test-race test-all fuzz

# Go modules, headless Chromium (Debian's package) for the UI's browser tests, and
# PostgreSQL's server binaries (Debian's package) for the tests of the shared store.
deps:
	@echo "deps: downloading Go modules (go mod download)"
	$(GO) mod download
	@command -v chromium >/dev/null || echo "deps: chromium not found: installing Debian's chromium package with apt-get (needs root) for the UI's browser tests"
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || echo "deps: PostgreSQL not found: installing Debian's postgresql package with apt-get (needs root); the tests start throwaway servers of their own (internal/pgtest), the system's is not used"
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || (apt-get update && apt-get install -y postgresql)

lint:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# JUNCTION_BROWSER_TESTS=1: the UI's browser tests fail, rather than skip, without Chromium.
test-race:
	JUNCTION_BROWSER_TESTS=1 $(GO) test -race -count=1 ./engine/... ./hl7/... ./transforms/... ./connectors/... ./ui/... ./mllp/...

# Every package not run under the race detector above (new packages are picked up).
test-all:
	JUNCTION_PG_TESTS=1 $(GO) test -count=1 $$($(GO) list ./... | grep -v -E '/(engine|hl7|transforms|connectors|ui|mllp)(/|$$)')
	$(GO) run ./cmd/junction test -config routes.yaml tests/

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./hl7/
	$(GO) test -run '^$$' -fuzz '^FuzzSetGet$$' -fuzztime $(FUZZTIME) ./hl7/
	$(GO) test -run '^$$' -fuzz '^FuzzIngest$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./connectors/
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME) ./mllp/
	$(GO) test -run '^$$' -fuzz '^FuzzJSONPos$$' -fuzztime $(FUZZTIME) ./fhir/
	$(GO) test -run '^$$' -fuzz '^FuzzFHIRXML$$' -fuzztime $(FUZZTIME) ./fhir/
	$(GO) test -run '^$$' -fuzz '^FuzzFHIRPath$$' -fuzztime $(FUZZTIME) ./fhir/
	$(GO) test -run '^$$' -fuzz '^FuzzConvert$$' -fuzztime $(FUZZTIME) ./hl7tofhir/

# A benchmark, not a test: $ingest throughput against a bare SQLite reference, then the
# Go micro-benchmarks. Figures depend on the machine; compare ratios.
bench: build
	./$(BIN) bench -config routes.yaml
	$(GO) test -run '^$$' -bench . -benchmem ./hl7/ ./engine/... ./transforms/ ./hl7tofhir/ ./fhir/

# Screenshots of the UI for the README (docs/*.png), taken with headless Chromium
# against a running engine holding realistic messages.
screenshots:
	JUNCTION_SCREENSHOTS=$(CURDIR)/docs $(GO) test -count=1 -run '^TestScreenshots$$' ./ui/

clean:
	rm -rf bin data out
