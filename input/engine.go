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
// {"opsworks_error": "<reason: detail>", "s3_bucket", "s3_key"[, "opsworks_raw":
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
// records; the uncompressed buffers are reused from object to object
// (cloudtrail.Result.Release). A collected batch is one more copy of up
// to batch_size until Fluent Bit has its own (the plugin then drops it).
//
// Integrity (validate_integrity, polling and local mode): see
// integrity.Checker. The listing then yields digests too; when it reaches a
// week of a stream, the week's digests are read and sealed before its log
// files are judged; every event record gets s3_integrity, every problem an
// integrity record {"integrity_status", "s3_bucket", "s3_key", "detail",
// "eventID", …} in listing order, and the summary and ExitCode count
// tampering and incomplete validation. In follow mode the listing stays
// integrity_delay behind the clock, so that a file's digest exists when it
// is read.
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
	"github.com/opsworks-trail/opsworks-trail/integrity"
	"github.com/opsworks-trail/opsworks-trail/internal/ratelimit"
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
	// Skipped hears of each local file the listing leaves out (not
	// .json/.json.gz, a kind not asked for) with the reason; they are
	// counted in Stats.SkippedFiles either way.
	Skipped func(path, reason string)
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
// concurrent use. Its methods live in this file (the API and the run's
// life) and in worker.go (reading objects).
type Engine struct {
	cfg    *Config
	logf   func(level int, format string, args ...any)
	now    func() time.Time
	src    source
	store  store
	reader *cloudtrail.ObjectReader
	warn   *ratelimit.Limiter
	retry  retryPolicy

	gate       gate
	ctx        context.Context
	cancel     context.CancelFunc
	jobs       chan job
	workers    sync.WaitGroup
	background sync.WaitGroup // the source's run and the maintenance loop

	q   queue
	st  stats
	mu  sync.Mutex // guards run
	run struct{ started, stopped bool }

	stopOnce     sync.Once
	finishedOnce sync.Once
	summary      Summary
}

// retryPolicy is the backoff of object reads, listings and receives;
// tests shorten it.
type retryPolicy struct{ base, max time.Duration }

func (r *retryPolicy) backoff(attempt int) time.Duration {
	return cloudtrail.Backoff(r.base, r.max, attempt)
}

// job is one object to read, numbered in listing order.
type job struct {
	seq uint64
	obj cloudtrail.Object
	msg *message // SQS mode: the message that named it
	// judge gives the object's integrity verdict from its hash
	// (validate_integrity); nil: not validated.
	judge integrity.Judge
	// findings, when set, make this an integrity job: records to queue in
	// listing order, no object to read (obj.Key.Path is "").
	findings []integrity.Finding
}

// NewEngine prepares an engine; nothing runs before Start. cfg is one
// that LoadConfig returned (or that passed Validate): it is not checked
// again here.
func NewEngine(cfg *Config, deps Deps) (*Engine, error) {
	if cfg == nil {
		return nil, errors.New("no configuration")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logf == nil {
		deps.Logf = stdLogf
	}
	e := &Engine{cfg: cfg, logf: deps.Logf, now: deps.Now, retry: retryPolicy{base: time.Second, max: 30 * time.Second},
		jobs: make(chan job, cfg.Workers),
		reader: cloudtrail.NewObjectReader(cloudtrail.ReadOptions{MaxObjectSize: int64(cfg.MaxObjectSize), EventSources: cfg.EventSources,
			APITimeout: cfg.APITimeout, StallTimeout: cfg.StallTimeout, Hash: cfg.ValidateIntegrity})}
	e.warn = ratelimit.New(warningInterval, func(msg string) { e.logf(LogWarn, "%s", msg) })
	e.q.init(cfg.BufferSize)
	e.st.init()
	var err error
	if e.src, e.store, err = newSource(cfg, deps, e.sourceEnv()); err != nil {
		return nil, err
	}
	return e, nil
}

// sourceEnv is what the engine lends its source.
func (e *Engine) sourceEnv() sourceEnv {
	return sourceEnv{logf: e.logf, warn: e.warn, gate: &e.gate, st: &e.st, put: e.put, putFindings: e.putFindings, backoff: e.retry.backoff}
}

// put numbers an object and hands it to a worker.
func (e *Engine) put(ctx context.Context, o cloudtrail.Object, msg *message, judge integrity.Judge) error {
	return e.send(ctx, job{seq: e.q.assign(o.Key.Time), obj: o, msg: msg, judge: judge})
}

// putFindings queues integrity records at their place in the listing
// order; t is the time the lag counts them at.
func (e *Engine) putFindings(ctx context.Context, t time.Time, fs []integrity.Finding) error {
	return e.send(ctx, job{seq: e.q.assign(t), obj: cloudtrail.Object{Key: cloudtrail.Key{Time: t}}, findings: fs})
}

func (e *Engine) send(ctx context.Context, j job) error {
	select {
	case e.jobs <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func stdLogf(level int, format string, args ...any) {
	names := [...]string{"", "error", "warn", "info", "debug"}
	name := "log"
	if level > 0 && level < len(names) {
		name = names[level]
	}
	log.Printf("[%s] cloudtrail_s3: "+format, append([]any{name}, args...)...)
}

// Start opens the source's state, runs the access check, then starts the
// source and the workers in the background.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.run.started || e.run.stopped {
		return errors.New("engine already started or stopped")
	}
	if err := e.src.start(ctx); err != nil {
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
	go e.runSource()
	e.logf(LogInfo, "%s", e.src.describe(e.cfg.Workers, e.cfg.RecordMode))
	return nil
}

// runSource runs the source; when it returns, no job is sent any more.
func (e *Engine) runSource() {
	defer e.background.Done()
	e.src.run(e.ctx)
	close(e.jobs)
	e.workers.Wait()
	if e.ctx.Err() == nil {
		e.q.finish()
		e.checkFinished()
	}
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
	return e.src.bounded() && e.q.drained()
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
		}
		e.src.stop()
		e.summary = e.summarize()
		if started {
			e.finishedOnce.Do(func() { e.logf(e.summary.level(), "%s", e.summary.text("stopped")) })
		}
	})
	return e.summary
}

func (e *Engine) stopped() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.run.stopped
}

// Collect returns the records prepared so far, whole objects only, up to
// maxBytes (batch_size when maxBytes <= 0; an object larger than that
// comes alone), or nil when none is ready. It never blocks on I/O.
func (e *Engine) Collect(maxBytes int) *Batch {
	if maxBytes <= 0 {
		maxBytes = e.cfg.BatchSize
	}
	b := e.q.take(maxBytes)
	if b != nil {
		e.st.collected(b)
	}
	return b
}

// Commit records that Fluent Bit accepted b: its objects are settled with
// the source (committed in the checkpoint, which is saved before Commit
// returns; or counted towards deleting their SQS message). Committing
// a batch twice, or nil, does nothing.
func (e *Engine) Commit(b *Batch) {
	if b == nil || b.committed {
		return
	}
	b.committed = true
	for i, k := range b.keys {
		e.src.delivered(job{obj: cloudtrail.Object{Key: k}, msg: b.msgs[i]})
	}
	e.q.committed(b)
	// Saved at once, not at the next tick: after a crash the checkpoint on
	// disk is behind what Fluent Bit accepted by the batches in flight at
	// most (Fluent Bit commits about once a second, so this is about one
	// write a second). A failed save is kept in memory and tried again.
	if err := e.src.save(); err != nil {
		level := LogWarn
		if e.stopped() {
			level = LogError // Stop has already saved: nothing will try again
		}
		e.logf(level, "saving the checkpoint: %v", err)
	}
	e.checkFinished()
}

// Stats returns a snapshot of the counters.
func (e *Engine) Stats() Stats {
	buffered, peak, oldest := e.q.usage()
	out := e.st.snapshot(buffered, peak, oldest)
	e.src.addStats(&out)
	return out
}

func (e *Engine) summarize() Summary {
	return Summary{Stats: e.Stats(), FailedKeys: e.st.failedKeyList()}
}

// maintain logs progress every progress_interval and saves the source's
// state every saveInterval.
func (e *Engine) maintain() {
	defer e.background.Done()
	save := time.NewTicker(saveInterval)
	defer save.Stop()
	var progress <-chan time.Time
	if e.cfg.ProgressInterval > 0 {
		t := time.NewTicker(e.cfg.ProgressInterval)
		defer t.Stop()
		progress = t.C
	}
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-save.C:
			if err := e.src.save(); err != nil {
				e.warn.Warn("checkpoint", "saving the checkpoint failed: "+err.Error())
			}
		case <-progress:
			e.logf(LogInfo, "%s", e.st.progressLine(e.Stats(), e.Paused()))
		}
	}
}

// checkFinished logs the summary once when a bounded run is done.
func (e *Engine) checkFinished() {
	if e.Done() {
		e.finishedOnce.Do(func() {
			sum := e.summarize()
			e.logf(sum.level(), "%s", sum.text("backfill finished"))
		})
	}
}

// newIntegrityOptions are validate_integrity's settings: the public keys
// (public_keys_file, else a ListPublicKeys fetcher) and the read
// parallelism; newSource adds how digests are read.
func newIntegrityOptions(cfg *Config) (*integrityOptions, error) {
	keys, err := integrity.LoadPublicKeysFiles(cfg.PublicKeysFiles)
	if err != nil {
		return nil, fmt.Errorf("public_keys_file: %w", err)
	}
	o := &integrityOptions{CheckerOptions: integrity.CheckerOptions{Keys: keys, Workers: cfg.Workers, MaxRetries: cfg.MaxRetries},
		delay: cfg.IntegrityDelay}
	if len(cfg.PublicKeysFiles) == 0 {
		s3opts := cfg.S3ClientOptions()
		o.Fetcher = &integrity.KeyFetcher{Keys: keys, List: func(ctx context.Context, region string, start, end time.Time) ([]cloudtrail.PublicKey, error) {
			return cloudtrail.ListPublicKeys(ctx, s3opts, region, start, end)
		}}
	}
	return o, nil
}

// newSource builds the source of cfg's mode, SQS notifications
// (queue_url), S3 polling (bucket) or a local tree (path), with the store
// its objects are read from.
func newSource(cfg *Config, deps Deps, env sourceEnv) (source, store, error) {
	ckOpts := cloudtrail.CheckpointOptions{Dir: cfg.StateDir, LateArrivalWindow: cfg.LateArrivalWindow,
		SaveInterval: saveInterval, Now: deps.Now, Logf: func(format string, args ...any) { env.logf(LogError, format, args...) }}
	poll := pollOptions{follow: cfg.Follow, pollInterval: cfg.PollInterval, maxRetries: cfg.MaxRetries, list: cfg.ListOptions(), checkpoint: ckOpts}
	poll.list.Skipped = func(p, reason string) {
		env.st.skippedFile(reason)
		if deps.Skipped != nil {
			deps.Skipped(p, reason)
		}
	}
	if cfg.ValidateIntegrity && !cfg.SQSMode() {
		io, err := newIntegrityOptions(cfg)
		if err != nil {
			return nil, nil, err
		}
		poll.integrity = io
	}
	// digestReader reads digests with the input's deadlines and size limit.
	digestReader := cloudtrail.NewObjectReader(cloudtrail.ReadOptions{MaxObjectSize: int64(cfg.MaxObjectSize),
		APITimeout: cfg.APITimeout, StallTimeout: cfg.StallTimeout})
	if !cfg.S3Mode() {
		fsys := deps.FS
		if fsys == nil {
			fsys = os.DirFS(cfg.Path)
		}
		abs, err := filepath.Abs(cfg.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("path: %w", err)
		}
		poll.where = "dir:" + abs
		poll.checkpoint.Source = poll.where
		poll.newLister = func(o cloudtrail.ListOptions) (cloudtrail.Lister, error) { return cloudtrail.NewDirLister(fsys, o) }
		poll.access = func(context.Context) error { return localAccess(fsys, cfg.Path) }
		if poll.integrity != nil {
			poll.integrity.ReadDigest = func(_ context.Context, key string) ([]byte, string, error) {
				data, err := digestReader.FileContent(fsys, key)
				return data, "", err // a copy has no metadata: signatures come from the successors
			}
		}
		return newPollSource(poll, env), dirStore{fsys}, nil
	}
	raw := deps.S3
	if raw == nil {
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		defer cancel()
		c, err := cloudtrail.NewS3Client(ctx, cfg.S3ClientOptions())
		if err != nil {
			return nil, nil, err
		}
		raw = c
	}
	raw = cloudtrail.WithS3Deadline(raw, cfg.APITimeout)
	st := s3Store{client: gatedS3{inner: raw, gate: env.gate}, bucket: cfg.Bucket}
	if cfg.SQSMode() {
		api := deps.SQS
		if api == nil {
			ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
			defer cancel()
			c, err := cloudtrail.NewSQSClient(ctx, cfg.SQSClientOptions())
			if err != nil {
				return nil, nil, err
			}
			api = c
		}
		api = cloudtrail.WithSQSDeadline(api, cfg.APITimeout)
		o := sqsOptions{queueURL: cfg.QueueURL, region: cfg.sqsRegion(), receivers: min(cfg.Workers, maxReceivers),
			maxMessages: cfg.MaxMessages, waitTime: cfg.WaitTime, visibilityTimeout: cfg.VisibilityTimeout,
			list: cfg.ListOptions(), includeInsight: cfg.IncludeInsight}
		return newSQSSource(o, env, st, api), st, nil
	}
	poll.where = "s3://" + cfg.Bucket + "/" + cloudtrail.NormalizePrefix(cfg.Prefix)
	poll.checkpoint.Source = poll.where
	poll.newLister = func(o cloudtrail.ListOptions) (cloudtrail.Lister, error) {
		return cloudtrail.NewS3Lister(st.client, cfg.Bucket, o)
	}
	if poll.integrity != nil {
		poll.integrity.Bucket = cfg.Bucket
		poll.integrity.ReadDigest = func(ctx context.Context, key string) ([]byte, string, error) {
			data, meta, err := digestReader.Content(ctx, st.client, cfg.Bucket, key)
			return data, meta["signature"], err // CloudTrail stores it as x-amz-meta-signature
		}
	}
	access := &s3Access{client: raw, timeout: cfg.APITimeout, bucket: cfg.Bucket, list: cfg.ListOptions(), warn: func(format string, args ...any) { env.logf(LogWarn, format, args...) }}
	poll.access = access.check
	return newPollSource(poll, env), st, nil
}
