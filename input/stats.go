package input

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/integrity"
)

// Stats are the engine's counters. Objects are counted once per read
// attempt that settled them; a failed object that is read again by a
// later pass counts again.
type Stats struct {
	ObjectsListed    int64 // taken from the listing and begun (new to the checkpoint)
	ObjectsSkipped   int64 // listed by the first pass but already delivered by an earlier run
	ObjectsRead      int64 // read and split (including objects with bad elements)
	ObjectsBad       int64 // unusable (bad content, archived, denied…): error record emitted, committed
	ObjectsFailed    int64 // retryable failures that ran out of retries: not committed
	ObjectsCommitted int64 // delivered and committed in the checkpoint
	Retries          int64 // object reads repeated after a retryable error

	EventsSeen   int64 // Records elements of the objects read
	EventsKept   int64 // events that passed the event_sources push-down
	Records      int64 // records prepared: events or objects, plus error records
	ErrorRecords int64
	Delivered    int64 // records handed out by Collect

	BytesListed       int64 // stored bytes of the objects listed (begun)
	ListingDone       bool  // a bounded run's listing is over: ObjectsListed and BytesListed are the totals
	BytesRead         int64 // stored bytes of the objects read (compressed for gzip)
	BytesUncompressed int64

	Newest time.Time     // delivery time of the newest listed object
	Lag    time.Duration // Newest minus the oldest listed object not yet settled; 0 when caught up

	Buffered     int // bytes of records prepared and not yet collected
	BufferedPeak int // the most Buffered has been

	Failures map[string]int64 // problems by reason: objects and elements
	// SkippedFiles are local files (or folders) not read, by reason (not
	// .json/.json.gz, a kind not asked for); ObjectsUndated local files
	// outside the layout without a delivery time in their name, read
	// whatever the window.
	SkippedFiles   map[string]int64
	ObjectsUndated int64
	Elapsed        time.Duration
	// BytesHandedOn are the bytes of records Collect returned (what
	// Fluent Bit appended), HandedOnTime the time from the start to the
	// last Collect that returned records: their ratio is the rate the
	// input sustained, which batch_size bounds (one collect a second).
	BytesHandedOn int64
	HandedOnTime  time.Duration

	SQS *SQSStats // SQS mode only

	// Integrity (validate_integrity): verdicts by status, files and
	// digests; IntegrityIncomplete counts what could not be checked
	// (digests unreadable or not listed, public keys not fetched).
	Integrity           map[string]int64
	IntegrityIncomplete int64
}

// Tampered is the number of integrity findings that mean the archive was
// changed (log_missing, log_modified, log_unreferenced, digest_missing,
// digest_invalid).
func (s Stats) Tampered() int64 {
	var n int64
	for status, c := range s.Integrity {
		if integrity.Tampered(status) {
			n += c
		}
	}
	return n
}

// ExitCode is what a run that ends with these counters exits with: 0 when
// every object was delivered, 2 when objects failed (retried out) or were
// unusable (bad content, archived, denied), and with validate_integrity
// when tampering was found or the validation is incomplete. 2, not 1: Fluent Bit and
// shells use 1 for "did not run at all", and a Kubernetes Job or a script
// must tell "ran, but the record is incomplete" apart from that.
func (s Stats) ExitCode() int {
	if s.ObjectsFailed > 0 || s.ObjectsBad > 0 || s.Tampered() > 0 || s.IntegrityIncomplete > 0 {
		return 2
	}
	return 0
}

// IntegrityLine is the verdicts of validate_integrity by status and what
// they mean ("integrity: log_missing 1, valid 420 (TAMPERING: 1
// findings)"); "" when integrity was not validated.
func (s Stats) IntegrityLine() string {
	if len(s.Integrity) == 0 && s.IntegrityIncomplete == 0 {
		return ""
	}
	var parts []string
	for _, st := range slices.Sorted(maps.Keys(s.Integrity)) {
		parts = append(parts, fmt.Sprintf("%s %d", st, s.Integrity[st]))
	}
	verdict := "nothing tampered with"
	if n := s.Tampered(); n > 0 {
		verdict = fmt.Sprintf("TAMPERING: %d findings", n)
	}
	if s.IntegrityIncomplete > 0 {
		verdict += fmt.Sprintf(", %d digests or accounts could not be checked (incomplete)", s.IntegrityIncomplete)
	}
	return "integrity: " + strings.Join(parts, ", ") + " (" + verdict + ")"
}

// Summary is the final account of a run.
type Summary struct {
	Stats
	// FailedKeys are the first 20 objects that failed or were unusable,
	// each with its reason.
	FailedKeys []string
}

// stats is the engine's mutable side of Stats.
type stats struct {
	objectsListed, objectsSkipped, objectsRead, objectsBad, objectsFailed, objectsCommitted, retries atomic.Int64
	objectsUndated                                                                                   atomic.Int64
	eventsSeen, eventsKept, records, errorRecords, delivered                                         atomic.Int64
	bytesRead, bytesUncompressed, bytesListed, handedOn                                              atomic.Int64
	listingDone                                                                                      atomic.Bool
	integrityIncomplete                                                                              atomic.Int64

	mu          sync.Mutex
	started     time.Time
	lastCollect time.Time // the last Collect that returned records
	newest      time.Time
	failures    map[string]int64
	skipped     map[string]int64
	failedKeys  []string
	verdicts    map[string]int64 // integrity statuses
	last        progressPoint    // at the previous progress line
}

type progressPoint struct {
	at             time.Time
	bytes, records int64
}

func (s *stats) init() { s.failures = map[string]int64{} }

func (s *stats) begin() {
	s.mu.Lock()
	s.started = time.Now()
	s.last = progressPoint{at: s.started}
	s.mu.Unlock()
}

func (s *stats) listed(t time.Time) {
	s.mu.Lock()
	if t.After(s.newest) {
		s.newest = t
	}
	s.mu.Unlock()
}

func (s *stats) read(stored int64, res *cloudtrail.Result) {
	s.objectsRead.Add(1)
	s.bytesRead.Add(stored)
	s.bytesUncompressed.Add(res.Size)
	s.eventsSeen.Add(int64(res.Total))
	s.eventsKept.Add(int64(res.Kept))
}

// integrity counts one integrity verdict.
func (s *stats) integrity(status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.verdicts == nil {
		s.verdicts = map[string]int64{}
	}
	s.verdicts[status]++
}

func (s *stats) collected(b *Batch) {
	s.delivered.Add(int64(b.Count))
	s.handedOn.Add(int64(len(b.Records)))
	s.mu.Lock()
	s.lastCollect = time.Now()
	s.mu.Unlock()
}

// skippedFile counts a local file the lister left out, by reason.
func (s *stats) skippedFile(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.skipped == nil {
		s.skipped = map[string]int64{}
	}
	s.skipped[reason]++
}

// failure counts a problem by reason and remembers the object ("" for
// element problems, which the object's key already shows in its record).
func (s *stats) failure(reason, object string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[reason]++
	if object != "" && len(s.failedKeys) < maxFailedKeys {
		s.failedKeys = append(s.failedKeys, object)
	}
}

// snapshot returns the counters, with the queue's figures.
func (s *stats) snapshot(buffered, peak int, oldest time.Time) Stats {
	s.mu.Lock()
	out := Stats{Newest: s.newest, Failures: maps.Clone(s.failures), SkippedFiles: maps.Clone(s.skipped), Buffered: buffered, BufferedPeak: peak,
		ObjectsUndated: s.objectsUndated.Load(), Integrity: maps.Clone(s.verdicts), IntegrityIncomplete: s.integrityIncomplete.Load()}
	if !s.started.IsZero() {
		out.Elapsed = time.Since(s.started)
		if !s.lastCollect.IsZero() {
			out.HandedOnTime = s.lastCollect.Sub(s.started)
		}
	}
	s.mu.Unlock()
	if !oldest.IsZero() && out.Newest.After(oldest) {
		out.Lag = out.Newest.Sub(oldest)
	}
	out.ObjectsListed, out.ObjectsSkipped, out.ObjectsRead = s.objectsListed.Load(), s.objectsSkipped.Load(), s.objectsRead.Load()
	out.ObjectsBad, out.ObjectsFailed, out.ObjectsCommitted = s.objectsBad.Load(), s.objectsFailed.Load(), s.objectsCommitted.Load()
	out.Retries, out.EventsSeen, out.EventsKept = s.retries.Load(), s.eventsSeen.Load(), s.eventsKept.Load()
	out.Records, out.ErrorRecords, out.Delivered = s.records.Load(), s.errorRecords.Load(), s.delivered.Load()
	out.BytesRead, out.BytesUncompressed = s.bytesRead.Load(), s.bytesUncompressed.Load()
	out.BytesListed, out.ListingDone = s.bytesListed.Load(), s.listingDone.Load()
	out.BytesHandedOn = s.handedOn.Load()
	return out
}

// failedKeyList is the first maxFailedKeys failed objects.
func (s *stats) failedKeyList() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.failedKeys)
}

// progressLine is one progress line for st; rates are over the time since
// the previous line.
func (s *stats) progressLine(st Stats, paused bool) string {
	now := time.Now()
	s.mu.Lock()
	prev := s.last
	s.last = progressPoint{at: now, bytes: st.BytesRead, records: st.EventsKept}
	s.mu.Unlock()
	secs := now.Sub(prev.at).Seconds()
	if secs <= 0 {
		secs = 1
	}
	note := ""
	if paused {
		note = " (paused)"
	}
	return fmt.Sprintf("progress: %s, %.1f MB/s, %.0f events/s%s", st.line(),
		float64(st.BytesRead-prev.bytes)/1e6/secs, float64(st.EventsKept-prev.records)/secs, note)
}

// line is the shared part of progress and summary lines.
func (st Stats) line() string {
	s := fmt.Sprintf("%d objects read (%d listed, %d skipped as already delivered, %d bad, %d failed), events kept %d of %d, %.1f MB read (%.1f MB uncompressed)",
		st.ObjectsRead, st.ObjectsListed, st.ObjectsSkipped, st.ObjectsBad, st.ObjectsFailed, st.EventsKept, st.EventsSeen,
		float64(st.BytesRead)/1e6, float64(st.BytesUncompressed)/1e6)
	if !st.Newest.IsZero() {
		s += fmt.Sprintf(", %s behind the newest listed object (%s)", st.Lag.Round(time.Second), st.Newest.UTC().Format(time.RFC3339))
	}
	if st.SQS != nil {
		s += "; " + st.SQS.line()
	}
	return s
}

// text is the final account: the counters, average rates, failures by
// reason and the first failed keys, after what ended the run.
func (sum Summary) text(what string) string {
	secs := max(sum.Elapsed.Seconds(), 1e-3)
	msg := fmt.Sprintf("%s after %s: %s, %.1f MB/s, %.0f events/s", what, sum.Elapsed.Round(time.Millisecond), sum.line(),
		float64(sum.BytesRead)/1e6/secs, float64(sum.EventsKept)/secs)
	if sum.BytesHandedOn > 0 {
		msg += fmt.Sprintf("; %d records handed on, %.1f MB in %s (%.1f MB/s)", sum.Delivered, float64(sum.BytesHandedOn)/1e6,
			sum.HandedOnTime.Round(time.Millisecond), float64(sum.BytesHandedOn)/1e6/max(sum.HandedOnTime.Seconds(), 1e-3))
	}
	if len(sum.Failures) > 0 {
		var parts []string
		for _, r := range slices.Sorted(maps.Keys(sum.Failures)) {
			parts = append(parts, fmt.Sprintf("%s %d", r, sum.Failures[r]))
		}
		msg += "; failures: " + strings.Join(parts, ", ")
	}
	if len(sum.FailedKeys) > 0 {
		msg += fmt.Sprintf("; first failed objects: %s", strings.Join(sum.FailedKeys, ", "))
	}
	if len(sum.SkippedFiles) > 0 {
		var parts []string
		for _, r := range slices.Sorted(maps.Keys(sum.SkippedFiles)) {
			parts = append(parts, fmt.Sprintf("%d %s", sum.SkippedFiles[r], r))
		}
		msg += "; not read: " + strings.Join(parts, ", ")
	}
	if line := sum.IntegrityLine(); line != "" {
		msg += "; " + line
	}
	if sum.ObjectsUndated > 0 {
		msg += fmt.Sprintf("; %d files outside the CloudTrail layout without a delivery time in their name, read whatever the window", sum.ObjectsUndated)
	}
	return msg
}

// level is the summary's log level: a warning when objects failed.
func (sum Summary) level() int {
	if sum.ObjectsFailed > 0 || sum.Tampered() > 0 || sum.IntegrityIncomplete > 0 {
		return LogWarn
	}
	return LogInfo
}
