// Command testdeps installs what the test suite needs and the Go toolchain
// does not bring, each pinned to an exact version, before any test runs:
// `make test` runs it first (as `make test-deps`), so that no test spends
// its own time budget on an install and every machine tests against the
// same servers. Tests only look these up and fail (under `make test`) or
// skip (a bare `go test`) with a message naming this command.
//
//   - MinIO (s3test.MinIOVersion), with `go install` into $GOBIN or
//     $GOPATH/bin: minutes from a cold module cache.
//   - local-aws-sqs (sqstest.LocalSQSVersion), with npm into
//     ~/.cache/opsworks-trail: seconds.
//   - the Debian packages of the arm64 checks (debpkg.Cross: the aarch64
//     cross compiler and qemu-user) and of the report test (chromium), with
//     apt-get, each at least its minimum version: seconds.
//   - Loki (lokitest.Version), built from its Go module into
//     ~/.cache/opsworks-trail, only when FLUENT_BIT_BIN is set: only the
//     real-Fluent-Bit tests use it, and its build takes many minutes.
//
// Each is skipped at once when already there. The exit status is 1 when
// any install failed; the message says which and why.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/debpkg"
	"github.com/opsworks-trail/opsworks-trail/test/lokitest"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
	"github.com/opsworks-trail/opsworks-trail/test/sqstest"
)

func main() {
	start := time.Now()
	logf := func(format string, args ...any) { fmt.Printf("test-deps: "+format+"\n", args...) }
	fmt.Println("test-deps: installing the pinned test dependencies (the first time takes minutes: MinIO is built from source)")
	failed := 0
	step := func(name, version string, ensure func() (string, error)) {
		t := time.Now()
		path, err := ensure()
		if err != nil {
			fmt.Fprintf(os.Stderr, "test-deps: %s %s: %v\n", name, version, err)
			failed++
			return
		}
		fmt.Printf("test-deps: %s %s ready at %s (%.1fs)\n", name, version, path, time.Since(t).Seconds())
	}
	step("MinIO", s3test.MinIOVersion, func() (string, error) { return s3test.EnsureMinIO(logf) })
	step("local-aws-sqs", sqstest.LocalSQSVersion, func() (string, error) { return sqstest.EnsureLocalSQS(logf) })
	for _, p := range append(debpkg.Cross, debpkg.Browser) {
		step(p.Name, ">= "+p.MinVersion, func() (string, error) { return p.Ensure(logf) })
	}
	if os.Getenv("FLUENT_BIT_BIN") != "" {
		step("Loki", lokitest.Version, func() (string, error) { return lokitest.Ensure(logf) })
	} else {
		fmt.Println("test-deps: Loki not built: FLUENT_BIT_BIN is not set, and only the real-Fluent-Bit tests use it")
	}
	fmt.Printf("test-deps: done in %.1fs\n", time.Since(start).Seconds())
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "test-deps: %d dependencies could not be installed; the tests that need them would fail\n", failed)
		os.Exit(1)
	}
}
