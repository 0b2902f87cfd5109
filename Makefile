# opsworks-trail — see README.md. Everything here needs only Go and gcc.
GO        ?= go
BUILD     ?= build
FILTER_SO := $(BUILD)/flb-filter_opsworks.so
INPUT_SO  := $(BUILD)/in_cloudtrail_s3.so
CLI       := $(BUILD)/opsworks-trail
SAMPLE    ?= examples/sample-trail

.PHONY: all build plugin cli generate test vet fuzz bench bench-fluent-bit run e2e fluent-bit-run clean

all: build

build: plugin cli

# The plugins: the opsworks filter (a native Fluent Bit filter built from Go)
# and the cloudtrail_s3 input (a Go proxy input plugin).
plugin: $(FILTER_SO) $(INPUT_SO)
$(FILTER_SO): $(shell find filter plugin/opsworks -name '*.go' -o -name '*.c' -o -name '*.h') go.mod
	$(GO) build -buildmode=c-shared -o $@ ./plugin/opsworks
$(INPUT_SO): $(shell find filter archive plugin/cloudtrail_s3 -name '*.go' -o -name '*.c' -o -name '*.h') go.mod
	$(GO) build -buildmode=c-shared -o $@ ./plugin/cloudtrail_s3

cli: $(CLI)
$(CLI): $(shell find filter archive cmd/opsworks-trail -name '*.go') go.mod
	$(GO) build -o $@ ./cmd/opsworks-trail

# Regenerates plugin/opsworks/config_map.h from filter.Options.
generate:
	$(GO) generate ./plugin/opsworks

# gofmt over tracked and new (untracked, not ignored) files.
GOFILES = $$(git ls-files --cached --others --exclude-standard '*.go')

vet:
	@test -z "$$(gofmt -l $(GOFILES))" || { gofmt -l $(GOFILES); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

# The whole test suite. Real-Fluent-Bit tests run when FLUENT_BIT_BIN is set
# and skip with a message otherwise.
test: vet
	$(GO) test -count=1 ./...

# Short fuzzing session for every fuzz target of the core.
fuzz:
	for f in FuzzDecodeJSON FuzzFilterChunk FuzzEventTransform; do \
		$(GO) test -run XXX -fuzz $$f -fuzztime 30s ./filter || exit 1; done
	$(GO) test -run XXX -fuzz FuzzSplitRecords -fuzztime 30s ./archive

bench:
	$(GO) test -run XXX -bench . -benchmem ./filter

# CPU of real Fluent Bit with the opsworks filter vs the equivalent Lua filter.
bench-fluent-bit:
	test/bench/run.sh

# The README's "run" command: the CLI over the bundled sample trail.
run: $(CLI)
	$(CLI) -meta $(SAMPLE)

e2e:
	@test -n "$(FLUENT_BIT_BIN)" || { echo "set FLUENT_BIT_BIN to a fluent-bit binary"; exit 1; }
	$(GO) test -count=1 -v ./test/e2e

# Runs the shipped fluent-bit.conf (from the repository root).
fluent-bit-run: plugin
	@test -n "$(FLUENT_BIT_BIN)" || { echo "set FLUENT_BIT_BIN to a fluent-bit binary"; exit 1; }
	$(FLUENT_BIT_BIN) -c fluent-bit.conf

clean:
	rm -rf $(BUILD)
