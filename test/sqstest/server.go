package sqstest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/internal/proc"
)

// readyTimeout is how long server.js may take to print READY (a fraction of
// a second on an idle machine; generous for loaded CI).
const readyTimeout = 30 * time.Second

// Server is a running local-aws-sqs server on 127.0.0.1.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT, the BaseEndpoint of clients
	Region    string // always Region ("us-east-1"), in queue ARNs
	AccountID string // always AccountID, in queue URLs and ARNs

	cmd     *exec.Cmd
	stdin   io.WriteCloser   // held open: server.js exits when it closes
	output  *proc.TailBuffer // stdout after READY, and stderr
	exited  chan struct{}    // closed when the process has been waited for
	waitErr error
	stop    sync.Once
}

// Start starts a server for the test and stops it when the test ends. The
// package is looked up by FindLocalSQS (`make test-deps` installs it); when
// it is missing (or node is) the test is skipped, or fails if RequireSQSEnv
// is set (as `make test` sets it). A server that is installed but does not start fails the test.
// Every server is new and empty; starting one takes about 100 ms.
func Start(t testing.TB) *Server {
	t.Helper()
	ensureOrSkip(t)
	s, _, err := StartProcess(t.Logf)
	if err != nil {
		t.Fatalf("sqstest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("sqstest: stopping local-aws-sqs: %v", err)
		}
	})
	return s
}

// ensureOrSkip is FindLocalSQS for a test: a failure skips it, or fails it
// if RequireSQSEnv is set. After it, StartProcess finds the install and
// never runs npm.
func ensureOrSkip(t testing.TB) {
	t.Helper()
	if _, err := FindLocalSQS(); err != nil {
		if os.Getenv(RequireSQSEnv) != "" {
			t.Fatalf("sqstest: local-aws-sqs is required (%s is set) but unavailable: %v", RequireSQSEnv, err)
		}
		t.Skipf("sqstest: local-aws-sqs unavailable, skipping (set %s to make this a failure): %v", RequireSQSEnv, err)
	}
}

// StartProcess installs local-aws-sqs if needed (see EnsureLocalSQS, which
// logf is passed to) and starts a server. stop (the same as Close) kills
// it; it is also gone when the calling process exits, however it exits.
// Outside tests (a benchmark command) this is the whole API.
func StartProcess(logf func(format string, args ...any)) (s *Server, stop func(), err error) {
	dir, err := EnsureLocalSQS(logf)
	if err != nil {
		return nil, nil, err
	}
	s, err = start(dir)
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}

// start runs `node server.js 0 REGION ACCOUNT` in dir. With port 0 the
// kernel picks a free loopback port as the server binds it, and server.js
// reports it on its READY line, so no port can be taken between choosing
// and binding it.
func start(dir string) (*Server, error) {
	s := &Server{
		Region:    Region,
		AccountID: AccountID,
		output:    &proc.TailBuffer{Max: 16 << 10},
		exited:    make(chan struct{}),
	}
	ready := &readyWriter{out: s.output, line: make(chan string, 1)}
	s.cmd = exec.Command("node", filepath.Join(dir, "server.js"), "0", s.Region, s.AccountID)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = ready, s.output
	stdin, err := s.cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("starting local-aws-sqs: %w", err)
	}
	s.stdin = stdin
	proc.OwnProcessGroup(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting node %s: %w", filepath.Join(dir, "server.js"), err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	fail := func(format string, args ...any) (*Server, error) {
		s.Close()
		return nil, fmt.Errorf("local-aws-sqs (node %s) did not start: %s\n--- server output ---\n%s",
			filepath.Join(dir, "server.js"), fmt.Sprintf(format, args...), s.output)
	}
	select {
	case line := <-ready.line:
		port, err := strconv.Atoi(strings.TrimPrefix(line, "READY "))
		if !strings.HasPrefix(line, "READY ") || err != nil || port <= 0 || port > 65535 {
			return fail("its first line is %q, not \"READY <port>\"", line)
		}
		s.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
		return s, nil
	case <-s.exited:
		return fail("it exited before it was ready (%v)", s.waitErr)
	case <-time.After(readyTimeout):
		return fail("no READY line after %v", readyTimeout)
	}
}

// Close kills the server's process group and waits for it. Queues live in
// the server's memory, so there is nothing to shut down gracefully.
func (s *Server) Close() error {
	var err error
	s.stop.Do(func() {
		defer s.stdin.Close()
		err = proc.Kill("local-aws-sqs", s.cmd, s.exited)
	})
	return err
}

// Pid is the server's process ID (to measure its CPU time, for example).
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Output is the end of the server's output (for failure messages); it is
// empty unless something went wrong.
func (s *Server) Output() string { return s.output.String() }

// readyWriter is the server's stdout: it sends the first line on line and
// passes everything after it to out.
type readyWriter struct {
	out  io.Writer
	line chan string // gets the first line, once

	buf  []byte
	sent bool
}

// Write is only called from exec's copying goroutine, so it needs no lock.
func (w *readyWriter) Write(p []byte) (int, error) {
	if w.sent {
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	i := bytes.IndexByte(w.buf, '\n')
	if i < 0 {
		if len(w.buf) > 4096 { // not server.js talking: let the error show it
			w.sent = true
			w.line <- string(w.buf[:64])
			w.out.Write(w.buf)
		}
		return len(p), nil
	}
	w.sent = true
	w.line <- strings.TrimSpace(string(w.buf[:i]))
	w.out.Write(w.buf[i+1:])
	w.buf = nil
	return len(p), nil
}
