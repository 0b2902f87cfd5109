// Package lokitest builds and finds the real Loki that the real-Fluent-Bit
// tests of test/e2e push to.
//
// Loki cannot be installed with `go install` (its go.mod has replace
// directives), so Ensure builds it from its module in a scratch module that
// copies those directives, into the user's cache directory (minutes the
// first time, reused afterwards). `make test-deps` calls Ensure when
// FLUENT_BIT_BIN is set, the only case in which a test uses Loki; tests call
// Find, which never builds.
package lokitest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Version is the Loki release that is built.
const Version = "v3.7.8"

// buildTimeout bounds the download and build of Loki.
const buildTimeout = 30 * time.Minute

// binPath is where the Loki binary of Version lives:
// $XDG_CACHE_HOME/opsworks-trail/loki-VERSION/loki (~/.cache by default).
func binPath() (dir, bin string, err error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", "", fmt.Errorf("no cache directory for Loki: %w", err)
	}
	dir = filepath.Join(cache, "opsworks-trail", "loki-"+Version)
	return dir, filepath.Join(dir, "loki"), nil
}

// Find returns the path of the built Loki binary, or an error saying how to
// build it.
func Find() (string, error) {
	_, bin, err := binPath()
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return bin, nil
	}
	return "", fmt.Errorf("Loki %s is not built at %s: run `make test-deps` with FLUENT_BIT_BIN set (it builds Loki)", Version, bin)
}

// Ensure returns the path of the Loki binary, building it first if needed
// (calling logf before, because that takes minutes).
func Ensure(logf func(format string, args ...any)) (string, error) {
	if bin, err := Find(); err == nil {
		return bin, nil
	}
	dir, bin, err := binPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	logf("lokitest: building Loki %s into %s (minutes the first time, cached afterwards)", Version, dir)
	return build(dir, bin)
}

func build(dir, bin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	goCmd := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		// Nothing of this repository's Go settings may leak into Loki's build.
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		return cmd.CombinedOutput()
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module lokibuild\n"), 0o644); err != nil {
		return "", err
	}
	out, err := goCmd("mod", "download", "-json", "github.com/grafana/loki/v3@"+Version)
	if err != nil {
		return "", fmt.Errorf("downloading Loki: %v\n%s", err, tail(out))
	}
	var dl struct{ GoMod string }
	if err := json.Unmarshal(out, &dl); err != nil || dl.GoMod == "" {
		return "", fmt.Errorf("go mod download: %v\n%s", err, tail(out))
	}
	lokiMod, err := os.ReadFile(dl.GoMod)
	if err != nil {
		return "", err
	}
	// Loki's replace directives, except those to directories of its own
	// repository (nested modules, fetched by their required version instead).
	var mod strings.Builder
	fmt.Fprintf(&mod, "module lokibuild\n\ngo %s\n\nrequire github.com/grafana/loki/v3 %s\n\n", goDirective(lokiMod), Version)
	for _, line := range strings.Split(string(lokiMod), "\n") {
		if strings.HasPrefix(line, "replace ") && !strings.Contains(line, "=> ./") && !strings.Contains(line, "=> ../") {
			mod.WriteString(line + "\n")
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod.String()), 0o644); err != nil {
		return "", err
	}
	tmp := bin + ".tmp"
	if out, err := goCmd("build", "-o", tmp, "github.com/grafana/loki/v3/cmd/loki"); err != nil {
		return "", fmt.Errorf("building Loki: %v\n%s", err, tail(out))
	}
	return bin, os.Rename(tmp, bin)
}

func goDirective(mod []byte) string {
	if m := regexp.MustCompile(`(?m)^go (\S+)`).FindSubmatch(mod); m != nil {
		return string(m[1])
	}
	return "1.24"
}

func tail(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
