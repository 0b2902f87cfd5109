package filter

import (
	"fmt"
	"sync"
	"time"
)

// RateLimiter lets at most one message per kind through per interval and
// counts the rest, so a flood of bad records cannot flood Fluent Bit's log,
// while the count still tells the user how many there were.
type RateLimiter struct {
	mu         sync.Mutex
	interval   time.Duration
	out        func(string)
	last       map[string]time.Time
	suppressed map[string]int
	now        func() time.Time
}

// NewRateLimiter returns a limiter writing to out (nil discards).
func NewRateLimiter(interval time.Duration, out func(string)) *RateLimiter {
	return &RateLimiter{interval: interval, out: out, last: map[string]time.Time{}, suppressed: map[string]int{}, now: time.Now}
}

// Warn logs msg unless a message of the same kind was logged within the interval.
func (r *RateLimiter) Warn(kind, msg string) {
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
