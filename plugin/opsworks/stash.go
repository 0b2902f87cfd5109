package main

import "sync"

// stash holds re-tagged records between the filter callback, which must not
// append to the emitter (opsworks.c says why), and the flusher collector
// that does, a few milliseconds later, from Fluent Bit's event loop. Both
// run in the engine thread; the lock is for safety, not contention.
type stash struct {
	mu    sync.Mutex
	items []stashed
	bytes int
	limit int // emitter_mem_buf_limit: beyond it, records are refused
}

type stashed struct {
	tag     string
	records []byte // a copy: the filter's buffers are reused
	count   int
}

// add keeps a copy of records for tag; false when that would take the
// stash over its limit (the caller keeps them under the incoming tag).
func (s *stash) add(tag string, records []byte, count int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limit > 0 && s.bytes+len(records) > s.limit && len(s.items) > 0 {
		return false
	}
	s.items = append(s.items, stashed{tag: tag, records: append([]byte(nil), records...), count: count})
	s.bytes += len(records)
	return true
}

// flush hands the records to appendFn in order until it refuses one (the
// emitter is paused; the rest waits for the next tick) and returns how
// many records were appended.
func (s *stash) flush(appendFn func(tag string, records []byte) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, done := 0, 0
	for _, it := range s.items {
		if !appendFn(it.tag, it.records) {
			break
		}
		n += it.count
		s.bytes -= len(it.records)
		done++
	}
	clear(s.items[:done])
	s.items = s.items[done:]
	return n
}

// drop empties the stash and returns how many records it held.
func (s *stash) drop() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, it := range s.items {
		n += it.count
	}
	s.items, s.bytes = nil, 0
	return n
}
