# Junction: `make run` to start it with the bundled routes.yaml, `make test` to test everything.
GO      ?= go
BIN     := bin/junction
FUZZTIME ?= 15s

.PHONY: build run check test test-race test-all fuzz lint bench deps clean

build:
	$(GO) build -o $(BIN) ./cmd/junction

run: build
	./$(BIN) serve -config routes.yaml

check: build
	./$(BIN) check -config routes.yaml

# Everything CI runs: formatting and vet, the engine and store under the race detector,
# every other test (end-to-end ones start the real binary on loopback), short fuzz runs.
test: deps lint test-race test-all fuzz

deps:
	$(GO) mod download

lint:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test-race:
	$(GO) test -race -count=1 ./engine/... ./hl7/... ./transforms/... ./connectors/... ./ui/...

test-all:
	$(GO) test -count=1 ./cmd/... ./internal/... ./e2e/...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./hl7/
	$(GO) test -run '^$$' -fuzz '^FuzzSetGet$$' -fuzztime $(FUZZTIME) ./hl7/
	$(GO) test -run '^$$' -fuzz '^FuzzIngest$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./connectors/

# A benchmark, not a test: $ingest throughput against a bare SQLite reference, then the
# Go micro-benchmarks. Figures depend on the machine; compare ratios.
bench: build
	./$(BIN) bench -config routes.yaml
	$(GO) test -run '^$$' -bench . -benchmem ./hl7/ ./engine/... ./transforms/

clean:
	rm -rf bin data out
