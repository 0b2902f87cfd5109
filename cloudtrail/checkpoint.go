package cloudtrail

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Checkpoints
//
// A Checkpoint remembers, per stream (account, region, kind of file, and
// organization), which objects have been delivered, so that a restart
// neither re-sends them nor misses files that CloudTrail delivered late.
//
// The caller calls Begin(key) when it takes an object from the listing and
// Commit(key) only after Fluent Bit has accepted all of the object's
// records. Objects may be processed by parallel workers, so commits arrive
// out of order. The rule:
//
//   - The high-water mark (HWM) of a stream is the newest key of the
//     contiguous committed prefix: it advances to the newest committed key
//     that sorts before every key still in flight, and never goes back.
//     A key committed while an earlier one is in flight is remembered
//     individually until the HWM passes it.
//   - The floor is where listing resumes after a restart:
//     min(HWM time − late_arrival_window, time of the oldest key in flight).
//     Committed keys older than the floor are forgotten, so the state holds
//     about one window of keys per stream, not one entry per object ever.
//   - After a restart, each stream is listed again from its floor and keys
//     still remembered as committed are skipped. Files delivered late (a key
//     that sorts before the HWM) are therefore found as long as they arrive
//     within late_arrival_window of the HWM; later than that they are missed.
//   - Keys in flight are saved too. After a restart they are "pending": they
//     hold the floor and the HWM exactly like keys in flight until they are
//     listed and begun again, so the HWM cannot jump past one that has not
//     been re-sent yet. EndPass, called after a complete listing, releases
//     pending keys that were not listed again (deleted objects, a changed
//     window), so they cannot hold the floor forever.
//   - Delivery is at-least-once: an object whose records Fluent Bit accepted
//     but whose commit was not saved before a crash is sent again.
//
// Files outside the CloudTrail layout (local trees) have no time; each one
// committed is remembered individually and never forgotten, so the state
// grows with their number.
//
// The state is one JSON file, written atomically (temporary file, fsync,
// rename). A missing file means a fresh start from the configured
// start_time. A corrupt file is renamed to <file>.corrupt-<UTC timestamp>,
// the problem is logged naming both files, and the input starts afresh from
// start_time: an unreadable checkpoint must not stop the pipeline, and
// keeping the file lets an operator recover it. A file written by a newer
// version, or for another source, is an error: starting over would silently
// re-send or skip data.

// CheckpointOptions configure a Checkpoint.
type CheckpointOptions struct {
	Dir  string // state_dir; created if missing
	Name string // file name stem; default "cloudtrail_s3" (the file is Dir/Name.json)
	// Source names what the state is about, e.g. "s3://bucket/AWSLogs/". A
	// state file written for another source is refused.
	Source string
	// LateArrivalWindow is how long before the HWM late files are still
	// looked for; default DefaultLateArrivalWindow.
	LateArrivalWindow time.Duration
	// SaveInterval: Commit saves the state at most this often (Save and
	// Close always save). 0 saves on every Commit.
	SaveInterval time.Duration
	Now          func() time.Time                 // clock; nil is time.Now
	Logf         func(format string, args ...any) // loud problems (a corrupt state); nil is log.Printf
}

// DefaultLateArrivalWindow covers CloudTrail's usual delivery delays (files
// typically arrive within 15 minutes of their time, occasionally later).
const DefaultLateArrivalWindow = time.Hour

const (
	stateVersion    = 1
	defaultStateTag = "cloudtrail_s3"
)

// Checkpoint is the durable delivery state of one input. It is safe for
// concurrent use.
type Checkpoint struct {
	mu        sync.Mutex
	opts      CheckpointOptions
	path      string
	streams   map[Stream]*streamState
	files     map[string]bool // keys outside the layout: true committed, false in flight
	dirty     bool
	lastSave  time.Time
	recovered string
}

// streamState is one stream's part of the state.
type streamState struct {
	hwm       string               // newest key of the contiguous committed prefix ("" before the first)
	hwmTime   time.Time            // the HWM key's time
	committed map[string]time.Time // committed keys not older than the floor
	inflight  map[string]flight    // begun (or pending), not yet committed
	// forgotten: committed keys older than this were forgotten in this
	// run. A listing that started from an older floor (a long pass in
	// follow mode, while commits move the floor on) still meets them;
	// Begin refuses them instead of reading them again. Not saved: after
	// a restart the listing starts at the floor.
	forgotten time.Time
}

// flight is a key in flight. pending: it was in flight when the state was
// last saved by an earlier run, and has not been begun again in this one.
type flight struct {
	time    time.Time
	pending bool
}

func newStreamState() *streamState {
	return &streamState{committed: map[string]time.Time{}, inflight: map[string]flight{}}
}

// OpenCheckpoint loads the state from opts.Dir (see the rules above for a
// missing or corrupt file).
func OpenCheckpoint(opts CheckpointOptions) (*Checkpoint, error) {
	if opts.Dir == "" {
		return nil, errors.New("checkpoint: no state_dir given")
	}
	if opts.Name == "" {
		opts.Name = defaultStateTag
	}
	if opts.LateArrivalWindow <= 0 {
		opts.LateArrivalWindow = DefaultLateArrivalWindow
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("checkpoint: state_dir %s: %w", opts.Dir, err)
	}
	c := &Checkpoint{opts: opts, path: filepath.Join(opts.Dir, opts.Name+".json"),
		streams: map[Stream]*streamState{}, files: map[string]bool{}}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// NewMemoryCheckpoint is a Checkpoint that is never written (no
// state_dir): the same bookkeeping within one run, so a followed archive
// is not read twice, and nothing survives a restart. opts.Dir and
// opts.Name are ignored.
func NewMemoryCheckpoint(opts CheckpointOptions) *Checkpoint {
	if opts.LateArrivalWindow <= 0 {
		opts.LateArrivalWindow = DefaultLateArrivalWindow
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Checkpoint{opts: opts, streams: map[Stream]*streamState{}, files: map[string]bool{}}
}

// Path is the state file ("" for a memory checkpoint).
func (c *Checkpoint) Path() string { return c.path }

// Recovered is where a corrupt state file was moved at open ("" if none).
func (c *Checkpoint) Recovered() string { return c.recovered }

// ResumeTime is the stream's floor: listing resumes there (zero when the
// stream has no state, i.e. start from the configured start_time).
func (c *Checkpoint) ResumeTime(s Stream) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.streams[s]; st != nil {
		return c.floorOf(st)
	}
	return time.Time{}
}

// HighWaterMark is the newest key of the stream's contiguous committed
// prefix ("" before the first).
func (c *Checkpoint) HighWaterMark(s Stream) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.streams[s]; st != nil {
		return st.hwm
	}
	return ""
}

// StreamStart is ResumeTime in the shape of ListOptions.StreamStart.
func (c *Checkpoint) StreamStart(s Stream) time.Time { return c.ResumeTime(s) }

// Begin marks a listed key as taken. It returns false when the key is
// committed or already in flight: the caller skips it.
func (c *Checkpoint) Begin(k Key) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k.Account == "" {
		if _, seen := c.files[k.Path]; seen {
			return false
		}
		c.files[k.Path] = false
		return true
	}
	st := c.stream(k.Stream())
	if _, ok := st.committed[k.Path]; ok {
		return false
	}
	f, ok := st.inflight[k.Path]
	if ok && !f.pending {
		return false
	}
	if !ok && k.Time.Before(st.forgotten) {
		return false // committed and forgotten (or as late as a restart would miss)
	}
	st.inflight[k.Path] = flight{time: k.Time}
	return true
}

// Committed reports whether a key is committed.
func (c *Checkpoint) Committed(k Key) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k.Account == "" {
		return c.files[k.Path]
	}
	st := c.streams[k.Stream()]
	if st == nil {
		return false
	}
	_, ok := st.committed[k.Path]
	return ok
}

// Release gives a begun key up without committing it (its object failed
// and will be retried). It will be listed again while it is newer than the
// floor; once the HWM is more than the window past it, it is forgotten.
func (c *Checkpoint) Release(k Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k.Account == "" {
		if !c.files[k.Path] {
			delete(c.files, k.Path)
		}
		return
	}
	if st := c.streams[k.Stream()]; st != nil {
		delete(st.inflight, k.Path)
		c.advance(st)
		c.dirty = true
	}
}

// Retry puts a begun key that failed back to pending, to be read again:
// unlike Release it keeps holding its stream's floor and HWM (so neither
// the next listing nor a restart passes it by), and the next listing that
// finds it begins it again. Call it when the next listing starts, not at
// the failure: EndPass releases pending keys its listing did not find, so
// a key marked during a listing that had already passed it would be
// dropped. A file outside the layout is simply forgotten (it has no floor).
func (c *Checkpoint) Retry(k Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k.Account == "" {
		if !c.files[k.Path] {
			delete(c.files, k.Path)
		}
		return
	}
	if st := c.streams[k.Stream()]; st != nil {
		if f, ok := st.inflight[k.Path]; ok {
			st.inflight[k.Path] = flight{time: f.time, pending: true}
			c.dirty = true
		}
	}
}

// EndPass ends a complete listing of every stream: keys still pending
// (in flight at the last run's end and not listed again in this one) no
// longer exist in the listing and are released, so they stop holding their
// stream's floor. Call it only after a List that ran to its end.
func (c *Checkpoint) EndPass() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.streams {
		for k, f := range st.inflight {
			if f.pending {
				delete(st.inflight, k)
				c.dirty = true
			}
		}
		c.advance(st)
	}
}

// Commit records that every record of the object was accepted downstream.
// The state is saved according to SaveInterval; a failed save is returned
// (the commit itself is kept in memory and saved by the next save). A key
// that was not begun is committed all the same; it just never held the HWM
// back while it was processed.
func (c *Checkpoint) Commit(k Key) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k.Account == "" {
		c.files[k.Path] = true
	} else {
		st := c.stream(k.Stream())
		delete(st.inflight, k.Path)
		st.committed[k.Path] = k.Time
		c.advance(st)
	}
	c.dirty = true
	if c.opts.SaveInterval > 0 && c.opts.Now().Sub(c.lastSave) < c.opts.SaveInterval {
		return nil
	}
	return c.saveLocked()
}

// Save writes the state if it changed since the last save.
func (c *Checkpoint) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.saveLocked()
}

// Close saves the state.
func (c *Checkpoint) Close() error { return c.Save() }

func (c *Checkpoint) stream(s Stream) *streamState {
	st := c.streams[s]
	if st == nil {
		st = newStreamState()
		c.streams[s] = st
	}
	return st
}

// advance moves the HWM over the contiguous committed prefix and forgets
// committed keys older than the floor.
func (c *Checkpoint) advance(st *streamState) {
	oldestInflight := ""
	for k := range st.inflight {
		if oldestInflight == "" || k < oldestInflight {
			oldestInflight = k
		}
	}
	for k, t := range st.committed {
		if k > st.hwm && (oldestInflight == "" || k < oldestInflight) {
			st.hwm, st.hwmTime = k, t
		}
	}
	floor := c.floorOf(st)
	for k, t := range st.committed {
		if t.Before(floor) {
			delete(st.committed, k)
			if floor.After(st.forgotten) {
				st.forgotten = floor
			}
		}
	}
}

// floorOf is min(HWM time − window, oldest key in flight or pending);
// zero (start from start_time) when there is neither.
func (c *Checkpoint) floorOf(st *streamState) time.Time {
	var floor time.Time
	if st.hwm != "" {
		floor = st.hwmTime.Add(-c.opts.LateArrivalWindow)
	}
	for _, f := range st.inflight {
		if floor.IsZero() || f.time.Before(floor) {
			floor = f.time
		}
	}
	return floor
}

// The state file.

type stateFile struct {
	Version           int           `json:"version"`
	Source            string        `json:"source"`
	LateArrivalWindow string        `json:"late_arrival_window"`
	SavedAt           time.Time     `json:"saved_at"`
	Streams           []streamEntry `json:"streams"`
	Files             []string      `json:"files,omitempty"`
}

type streamEntry struct {
	OrgID     string    `json:"org,omitempty"`
	Account   string    `json:"account"`
	Region    string    `json:"region"`
	Kind      string    `json:"kind"`
	HWM       string    `json:"hwm,omitempty"`
	Floor     time.Time `json:"floor"` // where listing resumes (informational: derived from the rest)
	Committed []string  `json:"committed"`
	InFlight  []string  `json:"in_flight,omitempty"`
}

func (c *Checkpoint) saveLocked() error {
	if !c.dirty {
		return nil
	}
	if c.path == "" { // memory checkpoint
		c.dirty = false
		c.lastSave = c.opts.Now()
		return nil
	}
	data, err := json.MarshalIndent(c.snapshot(), "", " ")
	if err != nil {
		return fmt.Errorf("checkpoint: encode %s: %w", c.path, err)
	}
	if err := writeFileAtomic(c.path, append(data, '\n')); err != nil {
		return fmt.Errorf("checkpoint: save %s: %w", c.path, err)
	}
	c.dirty = false
	c.lastSave = c.opts.Now()
	return nil
}

// snapshot is the persisted form, in a stable order so files diff well.
func (c *Checkpoint) snapshot() stateFile {
	sf := stateFile{Version: stateVersion, Source: c.opts.Source,
		LateArrivalWindow: c.opts.LateArrivalWindow.String(), SavedAt: c.opts.Now().UTC()}
	for s, st := range c.streams {
		e := streamEntry{OrgID: s.OrgID, Account: s.Account, Region: s.Region, Kind: s.Kind.String(),
			HWM: st.hwm, Floor: c.floorOf(st).UTC()}
		for k := range st.committed {
			e.Committed = append(e.Committed, k)
		}
		for k := range st.inflight {
			e.InFlight = append(e.InFlight, k)
		}
		slices.Sort(e.Committed)
		slices.Sort(e.InFlight)
		if e.HWM != "" || len(e.Committed) > 0 || len(e.InFlight) > 0 {
			sf.Streams = append(sf.Streams, e)
		}
	}
	slices.SortFunc(sf.Streams, func(a, b streamEntry) int {
		return strings.Compare(a.OrgID+"/"+a.Account+"/"+a.Kind+"/"+a.Region, b.OrgID+"/"+b.Account+"/"+b.Kind+"/"+b.Region)
	})
	for k, committed := range c.files {
		if committed {
			sf.Files = append(sf.Files, k)
		}
	}
	slices.Sort(sf.Files)
	return sf
}

// writeFileAtomic replaces path with data so that a crash leaves either the
// old or the new file, never a torn one.
func writeFileAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir makes the rename durable. Best effort: some file systems do not
// support syncing a directory, and the data itself is already synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// load reads the state file; see the package rules for missing and
// corrupt files.
func (c *Checkpoint) load() error {
	data, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // fresh start
	}
	if err != nil {
		return fmt.Errorf("checkpoint: read %s: %w", c.path, err)
	}
	var sf stateFile
	if err := json.Unmarshal(data, &sf); err != nil {
		return c.recoverCorrupt(fmt.Errorf("not valid JSON: %w", err))
	}
	switch {
	case sf.Version > stateVersion:
		return fmt.Errorf("checkpoint: %s has state version %d, newer than this plugin's %d; use the newer plugin or another state_dir", c.path, sf.Version, stateVersion)
	case sf.Version != stateVersion:
		return c.recoverCorrupt(fmt.Errorf("version %d is not %d", sf.Version, stateVersion))
	case sf.Source != c.opts.Source:
		return fmt.Errorf("checkpoint: %s is the state of %q, not of %q; use another state_dir (or name) per input, or remove the file to start over", c.path, sf.Source, c.opts.Source)
	}
	if err := c.restore(sf); err != nil {
		c.streams, c.files = map[Stream]*streamState{}, map[string]bool{}
		return c.recoverCorrupt(err)
	}
	return nil
}

// restore rebuilds the in-memory state, checking every key.
func (c *Checkpoint) restore(sf stateFile) error {
	for i, e := range sf.Streams {
		s := Stream{OrgID: e.OrgID, Account: e.Account, Region: e.Region, Kind: kindOfName(e.Kind)}
		if s.Kind == 0 || !IsAccount(s.Account) || !IsRegion(s.Region) {
			return fmt.Errorf("streams[%d]: not a stream: %+v", i, s)
		}
		st := c.stream(s)
		if e.HWM != "" {
			k, err := keyOf(e.HWM, s, i)
			if err != nil {
				return err
			}
			st.hwm, st.hwmTime = k.Path, k.Time
		}
		for _, key := range e.Committed {
			k, err := keyOf(key, s, i)
			if err != nil {
				return err
			}
			st.committed[k.Path] = k.Time
		}
		for _, key := range e.InFlight {
			k, err := keyOf(key, s, i)
			if err != nil {
				return err
			}
			st.inflight[k.Path] = flight{time: k.Time, pending: true}
		}
	}
	for _, f := range sf.Files {
		c.files[f] = true
	}
	return nil
}

// keyOf parses a saved key and checks it belongs to the entry's stream.
func keyOf(key string, s Stream, entry int) (Key, error) {
	k, ok := ParseKey(key)
	if !ok || k.Stream() != s {
		return Key{}, fmt.Errorf("streams[%d]: %q is not a key of %s", entry, key, s)
	}
	return k, nil
}

func kindOfName(name string) Kind {
	for _, k := range []Kind{KindLog, KindDigest, KindInsight} {
		if k.String() == name {
			return k
		}
	}
	return 0
}

// recoverCorrupt moves a corrupt state file aside and starts afresh.
func (c *Checkpoint) recoverCorrupt(problem error) error {
	aside := c.path + ".corrupt-" + c.opts.Now().UTC().Format("20060102T150405Z")
	if err := os.Rename(c.path, aside); err != nil {
		return fmt.Errorf("checkpoint: %s is corrupt (%v) and could not be moved aside: %w", c.path, problem, err)
	}
	c.recovered = aside
	c.opts.Logf("cloudtrail_s3: CHECKPOINT STATE IGNORED: %s is corrupt (%v); it was moved to %s and the input starts again from start_time, which may re-send objects already delivered",
		c.path, problem, aside)
	return nil
}
