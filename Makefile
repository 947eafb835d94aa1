# eas: see README.md. `make demo` runs a real search, `make test` runs the tests.
GO       ?= go
BIN      := bin/easrun
PKGS     := ./...
FUZZTIME ?= 10s

.PHONY: all build torch test test-short bench bench-peers fuzz fuzz-long lint demo clean deps

all: build

build:
	$(GO) build -o $(BIN) ./cmd/easrun

# The whole suite; CI runs exactly this.
test: build
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)
	# the engine again with the Go bodies of the vector kernels (no AVX2 CPUs, other arches)
	EAS_SIMD=off $(GO) test -count=1 ./core/nn

# The libtorch shim of the "torch" engine (bin/libeas_torch.so, beside the
# binary): against a pip torch >= 2 when python3 has one, else Debian's
# libtorch-dev. Optional: without it the torch engine's tests skip.
torch:
	bash scripts/build-torch-shim.sh

test-short:
	$(GO) test -short -count=1 $(PKGS)

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 20x ./core/nn/ ./core/nn/gorgoniabench/
	$(GO) test -run '^$$' -bench . -benchtime 5x ./controllers/reinforce/
	./$(BIN) bench

# Every fuzzer, as package:Name. Crashers the fuzzer finds land in the
# package's testdata/fuzz/<Name>/ and then run with the ordinary tests.
FUZZERS := ./dsl/:FuzzParseArch ./dsl/:FuzzParseExperiment ./core/checkpoint/:FuzzParse \
	./core/data/:FuzzIDX ./core/data/:FuzzMAT ./plugins/internal/wire/:FuzzAssembler ./plugins/internal/wire/:FuzzArch \
	./core/dist/:FuzzDecodeJob ./core/dist/:FuzzDecodeDataset ./core/dist/:FuzzDecodeResult ./core/dist/:FuzzDecodeWorkerInfo \
	./core/dist/:FuzzDecodeAttempts ./core/data/:FuzzParseNorm
FUZZTIME_LONG ?= 10m

# eas vs PyTorch (CPU, Debian's python3-torch) on three networks, alternating, 2 threads each.
# A benchmark, not part of make test. PAIRS=9 for tighter medians.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
PAIRS  ?= 5
bench-peers: build
	$(PYTHON) scripts/bench_peers.py --easrun ./$(BIN) --pairs $(PAIRS) --threads 2

# Short fuzzing of every parser.
fuzz:
	@for f in $(FUZZERS); do pkg=$${f%%:*}; name=$${f##*:}; echo "== $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; done

# Each fuzzer for FUZZTIME_LONG (10 minutes by default; over an hour in all); not part of `make test`.
fuzz-long:
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME_LONG)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# A real search on Fashion-MNIST (about 10 minutes on 2 cores).
demo: build
	@bash scripts/ensure-openblas.sh
	@bash scripts/ensure-fashion-mnist.sh
	./$(BIN) experiments/quickstart.eas --out runs --resume

clean:
	rm -rf bin runs
