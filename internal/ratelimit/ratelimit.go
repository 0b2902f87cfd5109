// Package ratelimit keeps repeated warnings from flooding Fluent Bit's log:
// the opsworks filter and the cloudtrail_s3 input both log through it.
package ratelimit

import (
	"fmt"
	"sync"
	"time"
)

// Limiter lets at most one message per kind through per interval and
// counts the rest, so a flood of bad records cannot flood Fluent Bit's log,
// while the count still tells the user how many there were.
type Limiter struct {
	mu         sync.Mutex
	interval   time.Duration
	out        func(string)
	last       map[string]time.Time
	suppressed map[string]int
	now        func() time.Time
}

// New returns a limiter writing to out (nil discards).
func New(interval time.Duration, out func(string)) *Limiter {
	return &Limiter{interval: interval, out: out, last: map[string]time.Time{}, suppressed: map[string]int{}, now: time.Now}
}

// Warn logs msg unless a message of the same kind was logged within the interval.
func (r *Limiter) Warn(kind, msg string) {
	if r == nil || r.out == nil {
		return
	}
	r.mu.Lock()
	now := r.now()
	if last, ok := r.last[kind]; ok && now.Sub(last) < r.interval {
		r.suppressed[kind]++
		r.mu.Unlock()
		return
	}
	n := r.suppressed[kind]
	r.last[kind] = now
	r.suppressed[kind] = 0
	r.mu.Unlock()
	if n > 0 {
		msg = fmt.Sprintf("%s (%d similar %s problems not logged since the last report)", msg, n, kind)
	}
	r.out(msg)
}
