# eas: see README.md. `make demo` runs a real search, `make test` runs the tests.
GO       ?= go
BIN      := bin/easrun
PKGS     := ./...
FUZZTIME ?= 10s

.PHONY: all build test test-short bench fuzz lint demo clean deps

all: build

build:
	$(GO) build -o $(BIN) ./cmd/easrun

# The whole suite; CI runs exactly this.
test: build
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)
	# the engine again with the Go bodies of the vector kernels (no AVX2 CPUs, other arches)
	EAS_SIMD=off $(GO) test -count=1 ./core/nn

test-short:
	$(GO) test -short -count=1 $(PKGS)

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 20x ./core/nn/ ./core/nn/gorgoniabench/
	$(GO) test -run '^$$' -bench . -benchtime 5x ./controllers/reinforce/
	./$(BIN) bench

# Short fuzzing of every parser.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseArch$$' -fuzztime $(FUZZTIME) ./dsl/
	$(GO) test -run '^$$' -fuzz '^FuzzParseExperiment$$' -fuzztime $(FUZZTIME) ./dsl/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./core/checkpoint/
	$(GO) test -run '^$$' -fuzz '^FuzzIDX$$' -fuzztime $(FUZZTIME) ./core/data/
	$(GO) test -run '^$$' -fuzz '^FuzzMAT$$' -fuzztime $(FUZZTIME) ./core/data/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# A real search on Fashion-MNIST (about 10 minutes on 2 cores).
demo: build
	@bash scripts/ensure-fashion-mnist.sh
	./$(BIN) experiments/quickstart.eas --out runs --resume

clean:
	rm -rf bin runs
