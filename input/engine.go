// Package input is the cloudtrail_s3 input engine in plain Go (no cgo): it
// composes the cloudtrail library (key layout, listing, reading one object,
// checkpoints, notifications) into a running input with its configuration,
// sources (S3 polling, a local tree, SQS notifications), workers, ordered
// buffering, batching and progress. The plugin (plugin/cloudtrail_s3) and
// the CLI only wire it to their hosts.
//
// # The cloudtrail_s3 engine
//
// Engine is the whole cloudtrail_s3 input in plain Go; the cgo plugin only
// maps Fluent Bit's callbacks onto it:
//
//	cfg, err := input.LoadConfig(getter)    // cb_init: keys of Options
//	e, err := input.NewEngine(cfg, input.Deps{Logf: flbLog})
//	err = e.Start(ctx)                             // access check, then work in the background
//	// cb_collect, once a second (never blocks):
//	if b := e.Collect(cfg.BatchSize); b != nil {
//	        append b.Records (b.Count records) to Fluent Bit
//	        e.Commit(b)                            // only after Fluent Bit accepted them
//	}
//	if e.Done() { … }                              // a bounded backfill is complete
//	e.Pause() / e.Resume()                         // cb_pause / cb_resume
//	summary := e.Stop()                            // cb_exit
//
// API:
//
//   - Options, Config, LoadConfig, (*Config).Validate:
//     the configuration; errors start with the key ("workers: …").
//   - Deps: what the engine needs from outside. S3 nil builds a client with
//     NewS3Client (S3 mode); FS nil is os.DirFS(path) (local mode); Logf
//     gets a level (LogError 1, LogWarn 2, LogInfo 3, LogDebug 4); Now is
//     the clock for listing windows, checkpoints and record-time fallbacks.
//   - NewS3Client: the SDK's default credential chain, `profile`,
//     `role_arn`/`external_id` (STS AssumeRole), `region`, `endpoint`,
//     `force_path_style`, standard retries (`max_retries`).
//   - NewEngine checks the configuration and builds the client; Start opens
//     the checkpoint (state_dir), runs the access check — which fails
//     naming the missing permission: s3:ListBucket on arn:aws:s3:::BUCKET,
//     s3:GetObject on the object, kms:Decrypt on the key of an SSE-KMS
//     trail — and starts the listing and `workers` readers.
//   - Collect(maxBytes) never blocks: it returns the records prepared so
//     far, whole objects only (one object's records are never split across
//     batches; an object larger than maxBytes comes alone), in listing
//     order, or nil. maxBytes <= 0 means batch_size.
//   - Commit(b) marks b's objects delivered in the checkpoint.
//   - Pause: no new GET and no listing call until Resume (calls under way
//     finish). Resume carries on where the input stopped.
//   - Done: follow is off, the one pass is over and every batch handed out
//     was committed.
//   - Stop: graceful and idempotent; cancels the work, saves the
//     checkpoint, logs and returns the Summary.
//   - Stats: counters, bytes, failures by reason, the lag behind the newest
//     listed object, the buffer use.
//
// Records are Fluent Bit log events [[time, {}], body] in msgpack. With
// record_mode event (the default) there is one per CloudTrail event kept by
// the event_sources push-down: the event object plus s3_bucket and s3_key
// (local mode: file_path, relative to path), at the event's eventTime
// (else the file's delivery time from its key, else now). With record_mode
// object there is one per file, {"Records": [kept events], "s3_bucket",
// "s3_key"}, at the file's delivery time; a file with no kept event gives
// no record.
//
// Nothing is dropped silently. A file that cannot be used (truncated or
// corrupt gzip, invalid JSON, Records not an array, no Records, empty,
// oversized, archived in Glacier, access denied) and every Records element
// that is not an object or cannot be decoded becomes an error record
// {"opsworks_error": "<reason: detail>", "s3_bucket", "s3_key"[, "event":
// <the element>]}, is logged (at most one line per reason per 10 s, with
// the count of the others) and counted by reason in Stats and the summary;
// the file is then committed like a good one, because reading it again
// would fail the same way. Throttling, 5xx and broken connections are
// retried with exponential backoff: the SDK retries each request up to
// max_retries times, and the engine reads the whole object again up to
// max_retries times (that also covers a body cut off mid-read, which the
// SDK cannot retry). An object still failing is counted failed and not
// committed: the next follow pass, or the next run, reads it again.
//
// Delivery order and checkpoints: streams (organization, account, region,
// kind) are listed one after the other, each in key (delivery-time) order,
// and each key is begun in the checkpoint in that order. Workers read in
// parallel, but their results are handed out in listing order, so Fluent
// Bit sees every stream in time order (which the opsworks filter's server
// memory benefits from). Commits may come in any order; the checkpoint
// keeps the contiguous prefix. Delivery is at least once: objects handed
// out but not committed when the input stops are read again after a
// restart. Without state_dir, the same bookkeeping is kept in memory only:
// a followed archive is not read twice within a run, but a restart reads
// everything from start_time again.
//
// Memory: buffer_size bounds the bytes of records prepared and not yet
// collected. A worker whose result does not fit waits (so reading stops
// when Fluent Bit does not collect), except for the result Collect needs
// next, which is always let in so the input cannot stall: the buffer holds
// at most buffer_size plus one object's records. Each worker also holds at
// most one object being read (up to max_object_size uncompressed) and its
// records.
//
// Follow mode: after a pass the engine waits poll_interval (Stop ends the
// wait), lists again from each stream's checkpoint floor (which reaches
// late_arrival_window behind the newest delivered file, so late files are
// found), and ends the pass in the checkpoint when the listing was
// complete. Objects that failed are begun again by the next pass.
package input

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/filter"
)

// Log levels of Deps.Logf, as Fluent Bit numbers them.
const (
	LogError = 1
	LogWarn  = 2
	LogInfo  = 3
	LogDebug = 4
)

// Deps is what the engine takes from its host.
type Deps struct {
	// S3 is the S3 client (S3 mode). nil: NewS3Client(cfg).
	S3 cloudtrail.S3API
	// FS is the archive in local mode. nil: os.DirFS(cfg.Path).
	FS fs.FS
	// SQS is the SQS client (SQS mode). nil: NewSQSClient(cfg.SQSClientOptions()).
	SQS cloudtrail.SQSAPI
	// Logf logs at a level (LogError … LogDebug). nil: the standard logger.
	Logf func(level int, format string, args ...any)
	// Now is the clock. nil: time.Now.
	Now func() time.Time
}

// Tuning that is not configuration.
const (
	// warningInterval: at most one warning per reason per interval.
	warningInterval = 10 * time.Second
	// saveInterval: the checkpoint is written at most this often while
	// commits come in, and at least this often while it has unsaved ones.
	saveInterval = 5 * time.Second
	// clientTimeout bounds building the S3 client (reading config files,
	// no network calls by default).
	clientTimeout = 30 * time.Second
	// maxFailedKeys is how many failed keys the summary lists.
	maxFailedKeys = 20
)

// Engine is a running cloudtrail_s3 input. Its methods are safe for
// concurrent use.
type Engine struct {
	cfg    *Config
	deps   Deps
	raw    cloudtrail.S3API // the caller's (or NewS3Client's) client: the access check
	client cloudtrail.S3API // raw behind the pause gate: listing and reading
	fsys   fs.FS
	source string    // checkpoint source: s3://BUCKET/PREFIX or dir:ABSPATH; the queue URL in SQS mode
	sq     *consumer // SQS mode only
	reader *cloudtrail.ObjectReader
	ck     *cloudtrail.Checkpoint
	warn   *filter.RateLimiter

	// Retry backoff of object reads and listings; tests shorten it.
	retryBase, retryMax time.Duration

	gate       gate
	ctx        context.Context
	cancel     context.CancelFunc
	jobs       chan job
	workers    sync.WaitGroup
	background sync.WaitGroup // the pass loop and the maintenance loop

	q   queue
	st  stats
	mu  sync.Mutex // guards started, stopped, retryKeys
	run struct {
		started, stopped bool
		retryKeys        []cloudtrail.Key // failed in this pass: begun again by the next
	}
	stopOnce     sync.Once
	finishedOnce sync.Once
	summary      Summary
}

// job is one listed object, numbered in listing order.
type job struct {
	seq uint64
	obj cloudtrail.Object
	msg *message // SQS mode: the message that named it
}

// NewEngine checks cfg and prepares an engine; nothing runs before Start.
func NewEngine(cfg *Config, deps Deps) (*Engine, error) {
	if cfg == nil {
		return nil, errors.New("no configuration")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logf == nil {
		deps.Logf = stdLogf
	}
	e := &Engine{cfg: cfg, deps: deps, retryBase: time.Second, retryMax: 30 * time.Second,
		jobs:   make(chan job, cfg.Workers),
		reader: cloudtrail.NewObjectReader(cloudtrail.ReadOptions{MaxObjectSize: int64(cfg.MaxObjectSize), EventSources: cfg.EventSources})}
	e.warn = filter.NewRateLimiter(warningInterval, func(msg string) { e.logf(LogWarn, "%s", msg) })
	e.q.init(cfg.BufferSize)
	e.st.init()
	if err := e.initSource(); err != nil {
		return nil, err
	}
	return e, nil
}

// initSource sets up the S3 client or the local tree.
func (e *Engine) initSource() error {
	if e.cfg.S3Mode() {
		e.raw = e.deps.S3
		if e.raw == nil {
			ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
			defer cancel()
			c, err := cloudtrail.NewS3Client(ctx, e.cfg.S3ClientOptions())
			if err != nil {
				return err
			}
			e.raw = c
		}
		e.client = gatedS3{inner: e.raw, gate: &e.gate}
		e.source = "s3://" + e.cfg.Bucket + "/" + cloudtrail.NormalizePrefix(e.cfg.Prefix)
		if e.cfg.SQSMode() {
			return e.initSQS()
		}
		return nil
	}
	e.fsys = e.deps.FS
	if e.fsys == nil {
		e.fsys = os.DirFS(e.cfg.Path)
	}
	abs, err := filepath.Abs(e.cfg.Path)
	if err != nil {
		return fmt.Errorf("path: %w", err)
	}
	e.source = "dir:" + abs
	return nil
}

// initSQS sets up the SQS client and the consumer (SQS mode).
func (e *Engine) initSQS() error {
	e.source = e.cfg.QueueURL
	api := e.deps.SQS
	if api == nil {
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		defer cancel()
		c, err := cloudtrail.NewSQSClient(ctx, e.cfg.SQSClientOptions())
		if err != nil {
			return err
		}
		api = c
	}
	e.sq = newConsumer(e, api)
	return nil
}

func stdLogf(level int, format string, args ...any) {
	names := [...]string{"", "error", "warn", "info", "debug"}
	name := "log"
	if level > 0 && level < len(names) {
		name = names[level]
	}
	log.Printf("[%s] cloudtrail_s3: "+format, append([]any{name}, args...)...)
}

func (e *Engine) logf(level int, format string, args ...any) { e.deps.Logf(level, format, args...) }

// Start opens the checkpoint (state_dir), checks access and starts the
// listing and the workers. ctx bounds only the start-up work: the
// background work runs until Stop.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.run.started || e.run.stopped {
		return errors.New("engine already started or stopped")
	}
	if err := e.openCheckpoint(); err != nil {
		return err
	}
	if err := e.checkAccess(ctx); err != nil {
		return err
	}
	e.run.started = true
	e.ctx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	e.st.begin()
	for i := 0; i < e.cfg.Workers; i++ {
		e.workers.Add(1)
		go e.worker()
	}
	e.background.Add(2)
	go e.maintain()
	if e.sq != nil {
		e.sq.start()
		go e.consume()
		e.logf(LogInfo, "receiving from %s with %d workers (max_messages %d, visibility_timeout %s, record_mode %s)",
			e.source, e.cfg.Workers, e.cfg.MaxMessages, e.cfg.VisibilityTimeout, e.cfg.RecordMode)
		return nil
	}
	go e.passes()
	e.logf(LogInfo, "reading %s with %d workers (follow %v, record_mode %s, checkpoint %s)",
		e.source, e.cfg.Workers, e.cfg.Follow, e.cfg.RecordMode, e.checkpointName())
	return nil
}

func (e *Engine) openCheckpoint() error {
	opts := cloudtrail.CheckpointOptions{Dir: e.cfg.StateDir, Source: e.source, LateArrivalWindow: e.cfg.LateArrivalWindow,
		SaveInterval: saveInterval, Now: e.deps.Now, Logf: func(format string, args ...any) { e.logf(LogError, format, args...) }}
	if e.cfg.StateDir == "" || e.cfg.SQSMode() {
		e.ck = cloudtrail.NewMemoryCheckpoint(opts) // SQS mode: the queue is the state, this stays unused
		return nil
	}
	ck, err := cloudtrail.OpenCheckpoint(opts)
	if err != nil {
		return fmt.Errorf("state_dir: %w", err)
	}
	e.ck = ck
	return nil
}

func (e *Engine) checkpointName() string {
	if e.ck.Path() == "" {
		return "none (no state_dir: a restart reads everything again)"
	}
	return e.ck.Path()
}

func (e *Engine) checkAccess(ctx context.Context) error {
	if e.sq != nil {
		return e.sq.check(ctx) // the bucket is known only from the notifications
	}
	if !e.cfg.S3Mode() {
		return localAccess(e.fsys, e.cfg.Path)
	}
	a := &s3Access{client: e.raw, cfg: e.cfg, warn: func(format string, args ...any) { e.logf(LogWarn, format, args...) }}
	return a.check(ctx)
}

// Pause holds new GETs and listing calls until Resume.
func (e *Engine) Pause() { e.gate.pause() }

// Resume lets paused work continue.
func (e *Engine) Resume() { e.gate.unpause() }

// Paused reports whether the engine is paused.
func (e *Engine) Paused() bool { return e.gate.isPaused() }

// Done reports whether a bounded run (follow off) has finished: the pass
// is over and every batch handed out was committed.
func (e *Engine) Done() bool {
	return !e.cfg.Follow && !e.cfg.SQSMode() && e.q.drained()
}

// Stop ends the run gracefully: cancels listing and reads (a paused
// engine too), waits for the goroutines, saves the checkpoint and returns
// the summary, which it also logs. Objects handed out but not committed
// stay in flight in the checkpoint and are read again after a restart.
// Stop is idempotent; later calls return the same summary.
func (e *Engine) Stop() Summary {
	e.stopOnce.Do(func() {
		e.mu.Lock()
		e.run.stopped = true
		started := e.run.started
		e.mu.Unlock()
		if started {
			e.cancel()
			e.q.wake()
			e.background.Wait()
			if e.sq != nil {
				e.sq.stop()
			}
		}
		if e.ck != nil {
			if err := e.ck.Close(); err != nil {
				e.logf(LogError, "saving the checkpoint: %v", err)
			}
		}
		e.summary = e.summarize()
		if started {
			e.finishedOnce.Do(func() { e.logSummary("stopped", e.summary) })
		}
	})
	return e.summary
}

func (e *Engine) stopped() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.run.stopped
}

// sleep waits d, or less if the run ends; it reports whether the run goes on.
func (e *Engine) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-e.ctx.Done():
		return false
	}
}
