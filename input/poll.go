package input

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/integrity"
)

// pollOptions are what a polling source needs.
type pollOptions struct {
	where        string // s3://BUCKET/PREFIX or dir:ABSPATH: logs and the checkpoint's source
	follow       bool
	pollInterval time.Duration
	maxRetries   int
	list         cloudtrail.ListOptions
	checkpoint   cloudtrail.CheckpointOptions // Dir "": in memory only
	// newLister lists the archive (S3 or a local tree) with opts.
	newLister func(opts cloudtrail.ListOptions) (cloudtrail.Lister, error)
	// access is the start-up access check.
	access func(ctx context.Context) error
	// integrity, when set, validates integrity while reading
	// (validate_integrity): the listing then yields digests too. Its
	// list, newLister and logStart are filled in by the source.
	integrity *integrityOptions
}

// pollSource lists an archive, one pass (a bounded backfill) or a pass
// every poll_interval (follow), and keeps the checkpoint: an object is
// begun in it when listed and committed once delivered.
type pollSource struct {
	o     pollOptions
	env   sourceEnv
	ck    *cloudtrail.Checkpoint
	check *integrity.Checker // nil: integrity not validated

	mu        sync.Mutex
	retryKeys []cloudtrail.Key // failed in this pass: begun again by the next
	// starts are where this pass lists each stream from, taken from the
	// checkpoint when the stream is first asked about: the checkpoint moves
	// on while the pass delivers, and integrity validation must judge a
	// stream over the window the listing used.
	starts map[cloudtrail.Stream]time.Time
}

func newPollSource(o pollOptions, env sourceEnv) *pollSource {
	return &pollSource{o: o, env: env}
}

func (p *pollSource) start(ctx context.Context) error {
	if p.o.checkpoint.Dir == "" {
		p.ck = cloudtrail.NewMemoryCheckpoint(p.o.checkpoint)
	} else {
		ck, err := cloudtrail.OpenCheckpoint(p.o.checkpoint)
		if err != nil {
			return fmt.Errorf("state_dir: %w", err)
		}
		p.ck = ck
	}
	if p.o.integrity != nil {
		io := *p.o.integrity
		io.NewLister, io.LogStart, io.List = p.o.newLister, p.streamStart, p.listOptions()
		p.check = newIntegrityCheck(io, p.env)
	}
	return p.o.access(ctx)
}

// listOptions are the listing of a pass: the selection, each stream from
// its checkpoint floor; with validate_integrity, digests too (a week whose
// log files are all gone is found by them, see integrity.Checker) and, in
// follow mode, integrity_delay behind the clock.
func (p *pollSource) listOptions() cloudtrail.ListOptions {
	opts := p.o.list
	opts.StreamStart, opts.Now = p.streamStart, p.o.checkpoint.Now
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if p.o.integrity != nil {
		opts.IncludeDigest = true
		skipped := opts.Skipped
		opts.Skipped = func(name, reason string) {
			if p.check != nil {
				p.check.Skipped(name)
			}
			if skipped != nil {
				skipped(name, reason)
			}
		}
		if p.o.follow {
			now, delay := opts.Now, p.o.integrity.delay
			opts.Now = func() time.Time { return now().Add(-delay) }
		}
	}
	return opts
}

func (p *pollSource) describe(workers int, recordMode string) string {
	ck := "none (no state_dir: a restart reads everything again)"
	if p.ck.Path() != "" {
		ck = p.ck.Path()
	}
	return fmt.Sprintf("reading %s with %d workers (follow %v, record_mode %s, checkpoint %s)",
		p.o.where, workers, p.o.follow, recordMode, ck)
}

func (p *pollSource) bounded() bool { return !p.o.follow }

// run is the listing loop.
func (p *pollSource) run(ctx context.Context) {
	for pass := 1; ; pass++ {
		p.retryFailed()
		if p.listPass(ctx, pass) {
			p.ck.EndPass()
		}
		if !p.o.follow {
			p.env.st.listingDone.Store(true)
		}
		if !p.o.follow || ctx.Err() != nil || !sleep(ctx, p.o.pollInterval) {
			return
		}
	}
}

// retryFailed lets this pass begin again the objects that failed in the
// last one (see Checkpoint.Retry for why this waits for the next pass).
func (p *pollSource) retryFailed() {
	p.mu.Lock()
	keys := p.retryKeys
	p.retryKeys = nil
	p.mu.Unlock()
	for _, k := range keys {
		p.ck.Retry(k)
	}
}

// listPass lists every stream once, retrying a failed listing with
// backoff; it reports whether the listing ran to its end.
func (p *pollSource) listPass(ctx context.Context, pass int) bool {
	for attempt := 0; ; attempt++ {
		err := p.listOnce(ctx, pass)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		reason := cloudtrail.Classify(err)
		if !reason.Retryable() || attempt >= p.o.maxRetries {
			p.env.logf(LogError, "listing %s failed (%s), giving up on this pass: %v", p.o.where, reason, err)
			p.env.st.failure("listing: "+string(reason), "")
			return false
		}
		wait := p.env.backoff(attempt)
		p.env.logf(LogWarn, "listing %s failed (%s), retrying in %s: %v", p.o.where, reason, wait.Round(time.Millisecond), err)
		if !sleep(ctx, wait) {
			return false
		}
	}
}

// streamStart is where this pass lists stream s from (see starts).
func (p *pollSource) streamStart(s cloudtrail.Stream) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.starts[s]
	if !ok {
		t = p.ck.StreamStart(s)
		p.starts[s] = t
	}
	return t
}

func (p *pollSource) listOnce(ctx context.Context, pass int) error {
	p.mu.Lock()
	p.starts = map[cloudtrail.Stream]time.Time{}
	p.mu.Unlock()
	lister, err := p.o.newLister(p.listOptions())
	if err != nil {
		return err
	}
	err = lister.List(ctx, func(o cloudtrail.Object) error { return p.dispatch(ctx, o, pass) })
	if p.check != nil {
		// The last week ends with the listing, complete or not: a failed
		// listing's missing files would be false alarms, so they are only
		// looked for after a complete one.
		if err == nil {
			err = p.check.EndPass(ctx)
		} else {
			p.check.Abandon()
		}
	}
	return err
}

// dispatch begins a listed object in the checkpoint — in listing order,
// which is key order within each stream — and hands it to the workers.
func (p *pollSource) dispatch(ctx context.Context, o cloudtrail.Object, pass int) error {
	if err := p.env.gate.wait(ctx); err != nil {
		return err // paused: the listing waits here too (local trees)
	}
	var judge integrity.Judge
	if p.check != nil {
		var read bool
		var err error
		if judge, read, err = p.check.Listed(ctx, o); err != nil || !read {
			return err
		}
	}
	p.env.st.listed(o.Key.Time)
	if o.Key.Time.IsZero() && o.Named.IsZero() {
		p.env.st.objectsUndated.Add(1)
	}
	if !p.ck.Begin(o.Key) {
		if pass == 1 && p.ck.Committed(o.Key) {
			p.env.st.objectsSkipped.Add(1)
		}
		return nil
	}
	p.env.st.objectsListed.Add(1)
	p.env.st.bytesListed.Add(o.Size)
	return p.env.put(ctx, o, nil, judge)
}

func (p *pollSource) delivered(j job) {
	if j.obj.Key.Path == "" {
		return // integrity records: no object
	}
	if err := p.ck.Commit(j.obj.Key); err != nil {
		p.env.warn.Warn("checkpoint", "saving the checkpoint failed (it is kept in memory and saved again later): "+err.Error())
	}
	p.env.st.objectsCommitted.Add(1)
}

// gaveUp leaves the object uncommitted: the next follow pass, or the next
// run, reads it again (it stays in flight in the checkpoint, so its
// stream's floor stays before it).
func (p *pollSource) gaveUp(j job, err error) {
	p.env.warn.Warn(string(cloudtrail.ReasonOf(err)), fmt.Sprintf("%v; giving up after %d retries: not committed, read again by the next pass or run", err, p.o.maxRetries))
	p.mu.Lock()
	p.retryKeys = append(p.retryKeys, j.obj.Key)
	p.mu.Unlock()
}

// redeliverable: a polled object that cannot be read gives its error
// record; only retryable failures are read again.
func (p *pollSource) redeliverable(cloudtrail.Reason) bool { return false }

func (p *pollSource) save() error {
	if p.ck == nil {
		return nil
	}
	return p.ck.Save()
}

func (p *pollSource) stop() {
	if p.ck == nil {
		return
	}
	if err := p.ck.Close(); err != nil {
		p.env.logf(LogError, "saving the checkpoint: %v", err)
	}
}

func (p *pollSource) addStats(*Stats) {}
