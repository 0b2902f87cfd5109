# opsworks-trail — see README.md. Everything here needs only Go and gcc.
GO        ?= go
BUILD     ?= build
FILTER_SO := $(BUILD)/flb-filter_opsworks.so
INPUT_SO  := $(BUILD)/in_cloudtrail_s3.so
CLI       := $(BUILD)/opsworks-trail
SAMPLE    ?= examples/sample-trail
# The CLI's --version: stamped from git, since builds may run with
# -buildvcs=false (GOFLAGS here, the Dockerfile), which leaves no VCS info.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

.PHONY: all build plugin release cli generate test test-deps vet fuzz bench bench-fluent-bit run e2e fluent-bit-run clean

all: build

build: plugin cli

# The plugins: the opsworks filter (a native Fluent Bit filter built from Go)
# and the cloudtrail_s3 input (a Go proxy input plugin).
plugin: $(FILTER_SO) $(INPUT_SO)
$(FILTER_SO): $(shell find record config internal filter plugin/opsworks plugin/include -name '*.go' -o -name '*.c' -o -name '*.h') go.mod
	$(GO) build -buildmode=c-shared -o $@ ./plugin/opsworks
$(INPUT_SO): $(shell find record config internal cloudtrail integrity input plugin/cloudtrail_s3 plugin/include -name '*.go' -o -name '*.c' -o -name '*.h') go.mod
	$(GO) build -buildmode=c-shared -o $@ ./plugin/cloudtrail_s3

# The release plugins, stripped, for linux/amd64 and linux/arm64 (cgo
# cross-compiled: Debian's gcc-aarch64-linux-gnu), each checked against the
# glibc floor 2.34 (aws-for-fluent-bit 3.x): what the Dockerfile ships.
release:
	for a in amd64 arm64; do sh deploy/build-plugins.sh $(BUILD)/linux-$$a $$a || exit 1; done

cli: $(CLI)
$(CLI): $(shell find record config internal filter cloudtrail input integrity cmd/opsworks-trail -name '*.go') go.mod
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $@ ./cmd/opsworks-trail

# Regenerates plugin/opsworks/config_map.h from filter.Options.
generate:
	$(GO) generate ./plugin/opsworks

# gofmt over tracked and new (untracked, not ignored) files.
GOFILES = $$(git ls-files --cached --others --exclude-standard '*.go')

vet:
	@test -z "$$(gofmt -l $(GOFILES))" || { gofmt -l $(GOFILES); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

# What the tests need beyond Go, pinned, installed before any test runs (the
# first time takes minutes: MinIO is built from source; later runs find
# everything at once). See test/testdeps.
test-deps:
	$(GO) run ./test/testdeps

# Per test binary. A cold run of the whole suite takes a few minutes; this
# leaves room for a slow machine within CI's 90 minutes, dependency step
# included, while a hung test still ends the run with a stack dump.
TEST_TIMEOUT ?= 60m

# The whole test suite. MinIO and local-aws-sqs are required (a test that
# cannot find them fails instead of skipping). Real-Fluent-Bit tests run when
# FLUENT_BIT_BIN is set and skip with a message otherwise; the last lines
# list every skipped test with its reason, and build/test.json keeps the raw
# `go test -json` stream.
test: vet test-deps
	@mkdir -p $(BUILD)
	OPSWORKS_REQUIRE_MINIO=1 OPSWORKS_REQUIRE_SQS=1 OPSWORKS_REQUIRE_CROSS=1 OPSWORKS_REQUIRE_BROWSER=1 $(GO) run ./test/testsummary -json $(BUILD)/test.json -- \
		$(GO) test -json -count=1 -timeout $(TEST_TIMEOUT) ./...

# Short fuzzing session for every fuzz target of the core.
fuzz:
	for f in FuzzDecodeJSON FuzzSkipMsgpackDepth; do \
		$(GO) test -run XXX -fuzz $$f -fuzztime 30s ./record || exit 1; done
	for f in FuzzFilterChunk FuzzEventTransform FuzzFastPathMatchesFullDecode; do \
		$(GO) test -run XXX -fuzz $$f -fuzztime 30s ./filter || exit 1; done
	for f in FuzzSplitRecords FuzzParseNotification; do \
		$(GO) test -run XXX -fuzz $$f -fuzztime 30s ./cloudtrail || exit 1; done
	$(GO) test -run XXX -fuzz FuzzParseDigest -fuzztime 30s ./integrity

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
	$(MAKE) test-deps
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -v ./test/e2e

# Runs the shipped fluent-bit.conf (from the repository root).
fluent-bit-run: plugin
	@test -n "$(FLUENT_BIT_BIN)" || { echo "set FLUENT_BIT_BIN to a fluent-bit binary"; exit 1; }
	$(FLUENT_BIT_BIN) -c fluent-bit.conf

clean:
	rm -rf $(BUILD)
