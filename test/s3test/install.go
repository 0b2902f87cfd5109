package s3test

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/internal/proc"
)

// MinIOVersion is the MinIO that EnsureMinIO installs, pinned so that every
// machine tests against the same server. MinIO publishes no semantic version
// tags, so this is a pseudo-version of its master branch: the one @latest
// resolved to on 2026-12-06 (commit 7aac2a2c5b7c of 2026-02-12), whose
// go.mod asks for go 1.24.0 (this repository's minimum too). It builds with
// Go 1.26.8 in a few minutes from a cold module cache. To move it, check the
// new pseudo-version with `go list -m github.com/minio/minio@latest`, run the
// suite, and change it here.
const MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

// MinIOPackage is what EnsureMinIO passes to go install.
const MinIOPackage = "github.com/minio/minio@" + MinIOVersion

// RequireMinIOEnv, when set (to anything), turns "MinIO cannot be installed"
// from a skip into a failure, for CI jobs that must run the integration tests.
const RequireMinIOEnv = "OPSWORKS_REQUIRE_MINIO"

// installTimeout bounds `go install`; a cold build takes 2–4 minutes.
const installTimeout = 15 * time.Minute

// install is per test binary: every test asking for MinIO waits for the one
// install (or its error) instead of starting another.
var install struct {
	once sync.Once
	path string
	err  error
}

// FindMinIO returns the path of an installed minio binary, on PATH or in
// $GOBIN or $GOPATH/bin, and never installs one: tests call it, so that no
// test spends its time budget on a build. `make test-deps` (which runs
// EnsureMinIO) installs it before the tests start.
func FindMinIO() (string, error) {
	dirs, err := goBinDirs()
	if err != nil {
		return "", err
	}
	if p := findMinIO(dirs); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("no minio binary of version %s on PATH or in %s: run `make test-deps` (it installs %s)", MinIOVersion, strings.Join(dirs, ", "), MinIOPackage)
}

// EnsureMinIO returns the path of a minio binary: one on PATH, else one in
// $GOBIN or $GOPATH/bin, else it installs one there with `go install
// MinIOPackage`, calling logf first because that takes minutes. One install
// per process (sync.Once) and per machine (a file lock, so that test
// binaries of several packages running at once do not build it twice).
// The test-dependency step and the benchmark commands use it; tests use
// FindMinIO.
func EnsureMinIO(logf func(format string, args ...any)) (string, error) {
	install.once.Do(func() { install.path, install.err = ensureMinIO(logf) })
	return install.path, install.err
}

func ensureMinIO(logf func(format string, args ...any)) (string, error) {
	dirs, err := goBinDirs()
	if err != nil {
		return "", err
	}
	if p := findMinIO(dirs); p != "" {
		return p, nil
	}
	unlock, err := proc.LockFile(filepath.Join(os.TempDir(), "opsworks-trail-minio-install.lock"))
	if err != nil {
		return "", fmt.Errorf("locking the MinIO install: %w", err)
	}
	defer unlock()
	if p := findMinIO(dirs); p != "" {
		return p, nil // another process installed it while we waited for the lock
	}
	logf("s3test: installing MinIO with `go install %s` into %s (minutes the first time, cached afterwards)", MinIOPackage, dirs[0])
	if err := goInstall(MinIOPackage); err != nil {
		return "", err
	}
	if p := findMinIO(dirs); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("go install %s succeeded but no minio binary is in %s", MinIOPackage, dirs[0])
}

// findMinIO looks on PATH, then in the directories go install writes to,
// for a minio binary built from MinIOVersion (its Go build information says
// which module version it is), so that an older or newer MinIO left on the
// machine is not used in its place.
func findMinIO(dirs []string) string {
	var candidates []string
	if p, err := exec.LookPath("minio"); err == nil {
		candidates = append(candidates, p)
	}
	for _, d := range dirs {
		candidates = append(candidates, filepath.Join(d, "minio"))
	}
	for _, p := range candidates {
		if info, err := os.Stat(p); err != nil || !info.Mode().IsRegular() || info.Mode()&0o111 == 0 {
			continue
		}
		if bi, err := buildinfo.ReadFile(p); err == nil && bi.Main.Path == "github.com/minio/minio" && bi.Main.Version == MinIOVersion {
			return p
		}
	}
	return ""
}

// goBinDirs are $GOBIN (if set), then each $GOPATH entry's bin, as the go
// command reports them (so defaults like ~/go/bin are included). The first
// is where go install puts binaries.
func goBinDirs() ([]string, error) {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w (is Go on PATH?)", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	var dirs []string
	if len(lines) > 0 && lines[0] != "" {
		dirs = append(dirs, lines[0])
	}
	if len(lines) > 1 {
		for _, p := range filepath.SplitList(lines[1]) {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("go env reports neither GOBIN nor GOPATH")
	}
	return dirs, nil
}

// goInstall runs go install outside this module and without the caller's
// GOFLAGS (a -mod or -tags meant for this repository must not leak into
// MinIO's build). The error carries the end of go's output: "no network"
// shows up there.
func goInstall(pkg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", pkg)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go install %s: %w\n%s", pkg, err, lastBytes(out.Bytes(), 2000))
	}
	return nil
}

func lastBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
