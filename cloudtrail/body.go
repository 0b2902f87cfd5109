package cloudtrail

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// ErrStalled is the read error of an object body that delivered no byte
// for ReadOptions.StallTimeout: the request was abandoned. It is a
// ReasonTimeout, retryable.
var ErrStalled = errors.New("object body stalled")

// stallGuard wraps an object body (the reader every consumer of a body
// composes with, never a second copy of it): when no byte arrives for d,
// abort cancels the request, which ends the Read that waits, and Read then
// reports ErrStalled. A slow body that keeps delivering bytes is never cut,
// however large the object.
type stallGuard struct {
	r       io.Reader
	d       time.Duration
	timer   *time.Timer
	stalled atomic.Bool
}

func guardStall(r io.Reader, d time.Duration, abort func()) *stallGuard {
	g := &stallGuard{r: r, d: d}
	g.timer = time.AfterFunc(d, func() {
		g.stalled.Store(true)
		abort()
	})
	return g
}

func (g *stallGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if n > 0 && !g.stalled.Load() {
		g.timer.Reset(g.d)
	}
	if err != nil && err != io.EOF && g.stalled.Load() {
		return n, fmt.Errorf("%w: no data for %s (stall_timeout): %v", ErrStalled, g.d, err)
	}
	return n, err
}

// stop ends the watch (the body was read, or given up).
func (g *stallGuard) stop() { g.timer.Stop() }
