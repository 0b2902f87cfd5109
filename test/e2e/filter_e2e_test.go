// Package e2e runs the plugins inside a real Fluent Bit. It needs
// FLUENT_BIT_BIN (a fluent-bit binary, 4.0 – 5.1); without it every test skips
// with a message, which is what CI does (it has no Fluent Bit; CI relies on
// test/harness instead).
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func fluentBit(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("FLUENT_BIT_BIN")
	if bin == "" {
		t.Skip("FLUENT_BIT_BIN is not set: skipping the real-Fluent-Bit end-to-end test (CI has no Fluent Bit; test/harness covers the plugin there)")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("FLUENT_BIT_BIN=%s: %v", bin, err)
	}
	return bin
}

var (
	buildOnce sync.Once
	soPath    string
	buildErr  error
)

// repoRoot is two levels up from this file's package directory.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// pluginSO builds flb-filter_opsworks.so once per test run.
func pluginSO(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "opsworks-e2e-*")
		if err != nil {
			buildErr = err
			return
		}
		soPath = filepath.Join(dir, "flb-filter_opsworks.so")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", soPath, "./plugin/opsworks")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building the plugin: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return soPath
}

// pipeline is one Fluent Bit run: a config written to a temp dir, run until
// the expected output appears.
type pipeline struct {
	t   *testing.T
	dir string
}

func newPipeline(t *testing.T) *pipeline {
	return &pipeline{t: t, dir: t.TempDir()}
}

func (p *pipeline) path(name string) string { return filepath.Join(p.dir, name) }

func (p *pipeline) write(name, content string) string {
	p.t.Helper()
	if err := os.WriteFile(p.path(name), []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
	return p.path(name)
}

// run starts Fluent Bit with config, waits until done() or the deadline, then
// stops it with SIGTERM (as a service manager would) and returns its log.
func (p *pipeline) run(bin, config string, done func() bool) string {
	p.t.Helper()
	cfg := p.write("fluent-bit.conf", config)
	logFile := p.path("fluent-bit.log")
	lf, err := os.Create(logFile)
	if err != nil {
		p.t.Fatal(err)
	}
	defer lf.Close()
	cmd := exec.Command(bin, "-c", cfg)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(40 * time.Second)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for time.Now().Before(deadline) && !done() {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logFile)
			p.t.Fatalf("fluent-bit exited early (%v):\n%s", err, log)
		case <-time.After(200 * time.Millisecond):
		}
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	log, _ := os.ReadFile(logFile)
	return string(log)
}

// readJSONLines reads a `file` output in the default (out_file "json")
// format: "tag: [time, {record}]" lines.
func readOutput(t *testing.T, path string) []outRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	// Tests poll the file while Fluent Bit writes it: a last line without
	// its newline is still being written, and is read on the next poll.
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	var out []outRecord
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		line := sc.Text()
		tag, rest, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		var pair []json.RawMessage
		if err := json.Unmarshal([]byte(rest), &pair); err != nil || len(pair) != 2 {
			t.Fatalf("%s: unexpected line %q", path, line)
		}
		var rec outRecord
		rec.Tag = tag
		if err := json.Unmarshal(pair[0], &rec.Time); err != nil {
			t.Fatalf("time: %v", err)
		}
		if err := json.Unmarshal(pair[1], &rec.Body); err != nil {
			t.Fatalf("record: %v", err)
		}
		out = append(out, rec)
	}
	return out
}

type outRecord struct {
	Tag  string
	Time float64
	Body map[string]any
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

// runToExit runs Fluent Bit with cfg, expecting it to stop by itself (a
// configuration it refuses): its combined output, its error, and whether it
// stopped within timeout (it is killed otherwise).
func runToExit(bin, cfg string, timeout time.Duration) (out []byte, err error, stopped bool) {
	cmd := exec.Command(bin, "-c", cfg)
	done := make(chan struct{})
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
		return out, err, true
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return out, err, false
	}
}
