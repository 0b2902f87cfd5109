package sqstest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/internal/proc"
)

// LocalSQSVersion is the version of the npm package local-aws-sqs that
// EnsureLocalSQS installs. server.js patches its code (see the package
// documentation), so a new version needs those patches checked: server.js
// refuses to start when one no longer applies.
const LocalSQSVersion = "2.0.2"

// RequireSQSEnv, when set (to anything), turns "local-aws-sqs cannot be
// installed or started" from a skip into a failure, for CI jobs that must
// run the SQS tests.
const RequireSQSEnv = "OPSWORKS_REQUIRE_SQS"

// minNodeMajor is the oldest Node.js local-aws-sqs runs on.
const minNodeMajor = 18

// installTimeout bounds `npm install`; it takes a few seconds with a warm
// npm cache (local-aws-sqs has two small dependencies).
const installTimeout = 5 * time.Minute

// serverJS is written as server.js into the install directory: it starts
// the server, patched, and ties its life to the Go process's.
//
//go:embed server.js
var serverJS []byte

// install is per test binary: every test asking for the server waits for
// the one install (or its error) instead of starting another.
var install struct {
	once sync.Once
	dir  string
	err  error
}

// EnsureLocalSQS returns a directory holding local-aws-sqs@LocalSQSVersion
// (in node_modules) and server.js, installing them on first use into
// $XDG_CACHE_HOME/opsworks-trail/local-aws-sqs-VERSION (~/.cache when
// XDG_CACHE_HOME is unset) with `npm install`, after calling logf. One
// install per process (sync.Once) and per machine (a file lock, and npm
// works in a temporary directory renamed into place, so neither parallel
// test binaries nor an interrupted install leave a half-installed
// directory). It needs node (18 or later) and, to install, npm on PATH.
func EnsureLocalSQS(logf func(format string, args ...any)) (dir string, err error) {
	install.once.Do(func() { install.dir, install.err = ensureLocalSQS(logf) })
	return install.dir, install.err
}

// FindLocalSQS returns the directory EnsureLocalSQS installs into when it
// holds local-aws-sqs@LocalSQSVersion, and never runs npm: tests call it, so
// that no test spends its time budget on an install. `make test-deps` (which
// runs EnsureLocalSQS) installs it before the tests start. A server.js left
// by an older version of this package is replaced (a local file write).
func FindLocalSQS() (string, error) {
	if err := checkNode(); err != nil {
		return "", err
	}
	dir, err := installDir()
	if err != nil {
		return "", err
	}
	if !installed(dir) {
		return "", fmt.Errorf("local-aws-sqs@%s is not installed in %s: run `make test-deps`", LocalSQSVersion, dir)
	}
	if !serverCurrent(dir) {
		if err := writeServerJS(dir); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func ensureLocalSQS(logf func(format string, args ...any)) (string, error) {
	if dir, err := FindLocalSQS(); err == nil {
		return dir, nil
	}
	if err := checkNode(); err != nil {
		return "", err
	}
	dir, err := installDir()
	if err != nil {
		return "", err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("creating the local-aws-sqs cache directory: %w", err)
	}
	unlock, err := proc.LockFile(dir + ".lock")
	if err != nil {
		return "", fmt.Errorf("locking the local-aws-sqs install: %w", err)
	}
	defer unlock()
	if !installed(dir) { // checked again: another process may have installed it while we waited
		logf("sqstest: installing local-aws-sqs@%s with npm into %s (seconds the first time, cached afterwards)", LocalSQSVersion, dir)
		if err := npmInstall(dir); err != nil {
			return "", err
		}
	}
	if !serverCurrent(dir) {
		// An install by an older version of this package: same
		// local-aws-sqs, different server.js.
		if err := writeServerJS(dir); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// installDir is $XDG_CACHE_HOME (if absolute, as the XDG specification
// requires) or ~/.cache, then opsworks-trail/local-aws-sqs-VERSION.
func installDir() (string, error) {
	cache := os.Getenv("XDG_CACHE_HOME")
	if !filepath.IsAbs(cache) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory for local-aws-sqs: set XDG_CACHE_HOME or HOME (%w)", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "opsworks-trail", "local-aws-sqs-"+LocalSQSVersion), nil
}

// checkNode checks that node is on PATH and recent enough.
func checkNode() error {
	node, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("node is not on PATH: install Node.js %d or later (https://nodejs.org/) to run the SQS tests", minNodeMajor)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return fmt.Errorf("%s --version: %w", node, err)
	}
	v := strings.TrimSpace(string(out)) // "v20.20.2"
	major, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(v, "v"), ".", 2)[0])
	if err != nil {
		return fmt.Errorf("%s --version printed %q, not a version", node, v)
	}
	if major < minNodeMajor {
		return fmt.Errorf("%s is Node.js %s; local-aws-sqs needs %d or later: upgrade Node.js", node, v, minNodeMajor)
	}
	return nil
}

// installed reports whether dir holds local-aws-sqs at LocalSQSVersion.
func installed(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "local-aws-sqs", "package.json"))
	if err != nil {
		return false
	}
	var pkg struct {
		Version string `json:"version"`
	}
	return json.Unmarshal(b, &pkg) == nil && pkg.Version == LocalSQSVersion
}

// serverCurrent reports whether dir's server.js is this package's.
func serverCurrent(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "server.js"))
	return err == nil && bytes.Equal(b, serverJS)
}

// npmInstall installs local-aws-sqs into a temporary directory beside dir,
// with server.js, then renames it to dir, so that dir is either absent or
// complete. The caller holds the install lock. The error carries the end of
// npm's output: "no network" or a registry error shows up there.
func npmInstall(dir string) error {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("npm is not on PATH: install npm (it comes with Node.js) to install local-aws-sqs, or install it yourself with `npm install --prefix %s local-aws-sqs@%s`", dir, LocalSQSVersion)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("creating a directory to install local-aws-sqs into: %w", err)
	}
	defer os.RemoveAll(tmp) // nothing left to remove once renamed

	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	pkg := "local-aws-sqs@" + LocalSQSVersion
	// --prefer-offline: the version is exact, so npm's cache (checked
	// against the lockfile-style integrity hash) is as good as the registry,
	// and an offline machine that installed it once can install it again.
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--prefer-offline", "--prefix", tmp, pkg)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm install %s (is the npm registry reachable?): %w\n%s", pkg, err, lastBytes(out.Bytes(), 2000))
	}
	if !installed(tmp) {
		return fmt.Errorf("npm install %s succeeded but %s holds no local-aws-sqs %s\n%s", pkg, tmp, LocalSQSVersion, lastBytes(out.Bytes(), 2000))
	}
	if err := writeServerJS(tmp); err != nil {
		return err
	}
	// A directory left by a failed or foreign install (not installed, or we
	// would not be here) goes first: rename does not replace a non-empty one.
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing the incomplete install %s: %w (delete it by hand)", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if installed(dir) { // lost a race with another process (no file lock on this OS)
			return nil
		}
		return fmt.Errorf("moving the local-aws-sqs install into place: %w", err)
	}
	return nil
}

// writeServerJS writes server.js into dir atomically (a server starting
// meanwhile reads the old or the new file, never half of one).
func writeServerJS(dir string) error {
	f, err := os.CreateTemp(dir, "server.js.tmp-")
	if err != nil {
		return fmt.Errorf("writing server.js: %w", err)
	}
	_, werr := f.Write(serverJS)
	merr := f.Chmod(0o644)
	cerr := f.Close()
	if err := errors.Join(werr, merr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing server.js: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, "server.js")); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing server.js: %w", err)
	}
	return nil
}

func lastBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
