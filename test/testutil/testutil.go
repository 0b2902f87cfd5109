// Package testutil holds the few test helpers that the unit tests of
// several packages (cloudtrail, input) share.
package testutil

import (
	"fmt"
	"sync"
	"time"
)

// UTC parses an RFC 3339 time, panicking on a malformed literal (tests
// write them by hand).
func UTC(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// LogRecorder collects formatted log lines; safe for concurrent use.
type LogRecorder struct {
	mu    sync.Mutex
	lines []string
}

// Logf records one line.
func (l *LogRecorder) Logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// Lines are the lines so far.
func (l *LogRecorder) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}
