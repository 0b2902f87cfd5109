package input

import (
	"fmt"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
)

// passes is the listing loop: one pass (bounded backfill), or passes every
// poll_interval (follow). When it returns, no job is sent any more.
func (e *Engine) passes() {
	defer e.background.Done()
	defer func() {
		close(e.jobs)
		e.workers.Wait()
		if e.ctx.Err() == nil {
			e.q.finish()
			e.checkFinished()
		}
	}()
	for pass := 1; ; pass++ {
		e.retryFailed()
		if e.listPass(pass) {
			e.ck.EndPass()
		}
		if !e.cfg.Follow || e.ctx.Err() != nil || !e.sleep(e.cfg.PollInterval) {
			return
		}
	}
}

// retryFailed lets this pass begin again the objects that failed in the
// last one (see Checkpoint.Retry for why this waits for the next pass).
func (e *Engine) retryFailed() {
	e.mu.Lock()
	keys := e.run.retryKeys
	e.run.retryKeys = nil
	e.mu.Unlock()
	for _, k := range keys {
		e.ck.Retry(k)
	}
}

// listPass lists every stream once, retrying a failed listing with
// backoff; it reports whether the listing ran to its end.
func (e *Engine) listPass(pass int) bool {
	for attempt := 0; ; attempt++ {
		err := e.listOnce(pass)
		if err == nil {
			return true
		}
		if e.ctx.Err() != nil {
			return false
		}
		reason := cloudtrail.Classify(err)
		if !reason.Retryable() || attempt >= e.cfg.MaxRetries {
			e.logf(LogError, "listing %s failed (%s), giving up on this pass: %v", e.source, reason, err)
			e.st.failure("listing: "+string(reason), "")
			return false
		}
		wait := e.backoff(attempt)
		e.logf(LogWarn, "listing %s failed (%s), retrying in %s: %v", e.source, reason, wait.Round(time.Millisecond), err)
		if !e.sleep(wait) {
			return false
		}
	}
}

func (e *Engine) listOnce(pass int) error {
	lister, err := e.newLister()
	if err != nil {
		return err
	}
	return lister.List(e.ctx, func(o cloudtrail.Object) error { return e.dispatch(o, pass) })
}

func (e *Engine) newLister() (cloudtrail.Lister, error) {
	opts := e.cfg.ListOptions()
	opts.StreamStart, opts.Now = e.ck.StreamStart, e.deps.Now
	if e.cfg.S3Mode() {
		return cloudtrail.NewS3Lister(e.client, e.cfg.Bucket, opts)
	}
	return cloudtrail.NewDirLister(e.fsys, opts)
}

// dispatch begins a listed object in the checkpoint — in listing order,
// which is key order within each stream — and hands it to a worker.
func (e *Engine) dispatch(o cloudtrail.Object, pass int) error {
	if err := e.gate.wait(e.ctx); err != nil {
		return err // paused: the listing waits here too (local trees)
	}
	e.st.listed(o.Key.Time)
	if !e.ck.Begin(o.Key) {
		if pass == 1 && e.ck.Committed(o.Key) {
			e.st.objectsSkipped.Add(1)
		}
		return nil
	}
	e.st.objectsListed.Add(1)
	j := job{seq: e.q.assign(o.Key.Time), obj: o}
	select {
	case e.jobs <- j:
		return nil
	case <-e.ctx.Done():
		return e.ctx.Err()
	}
}

// worker reads objects until the listing ends.
func (e *Engine) worker() {
	defer e.workers.Done()
	for j := range e.jobs {
		if p := e.prepare(j); p != nil {
			e.q.put(p)
		}
	}
}

// prepare reads one object and turns it into records; nil when the run was
// canceled (the object stays in flight and is read again after a restart).
func (e *Engine) prepare(j job) (p *prepared) {
	defer func() {
		if r := recover(); r != nil {
			p = e.badObject(j, &cloudtrail.ObjectError{Key: j.obj.Key.Path, Reason: cloudtrail.ReasonOther, Offset: -1, Detail: fmt.Sprintf("internal error: %v", r)})
		}
	}()
	if j.obj.NeedsRestore() {
		return e.badObject(j, &cloudtrail.ObjectError{Reason: cloudtrail.ReasonArchived, Offset: -1,
			Detail: "storage class " + j.obj.StorageClass + ": restore the object to read it"})
	}
	res, err := e.readWithRetries(j.obj)
	switch {
	case err == nil:
		return e.encode(j, res)
	case e.ctx.Err() != nil:
		return nil
	case cloudtrail.Retryable(err), j.msg != nil && redeliverable(cloudtrail.ReasonOf(err)):
		return e.failed(j, err)
	}
	return e.badObject(j, err)
}

// redeliverable: in SQS mode these failures leave the message for
// redelivery (and the dead-letter queue) instead of giving an error
// record: access can be granted, a bucket created, an object restored, and
// the dead-letter queue can then be redriven.
func redeliverable(r cloudtrail.Reason) bool {
	return r == cloudtrail.ReasonAccessDenied || r == cloudtrail.ReasonNoSuchBucket || r == cloudtrail.ReasonArchived
}

// readWithRetries reads an object, again after retryable errors, with
// exponential backoff, at most max_retries more times.
func (e *Engine) readWithRetries(o cloudtrail.Object) (*cloudtrail.Result, error) {
	for attempt := 0; ; attempt++ {
		if err := e.gate.wait(e.ctx); err != nil {
			return nil, err
		}
		res, err := e.readOnce(o)
		if err == nil || !cloudtrail.Retryable(err) || attempt >= e.cfg.MaxRetries || e.ctx.Err() != nil {
			return res, err
		}
		e.st.retries.Add(1)
		wait := e.backoff(attempt)
		e.logf(LogDebug, "%v; retrying in %s (retry %d of %d)", err, wait.Round(time.Millisecond), attempt+1, e.cfg.MaxRetries)
		if !e.sleep(wait) {
			return nil, e.ctx.Err()
		}
	}
}

func (e *Engine) readOnce(o cloudtrail.Object) (*cloudtrail.Result, error) {
	if e.cfg.S3Mode() {
		return e.reader.Get(e.ctx, e.client, e.bucketOf(o), o.Key.Path)
	}
	return e.reader.ReadFile(e.fsys, o.Key.Path)
}

// backoff is retryBase·2^attempt, capped at retryMax, with jitter so that
// workers throttled together do not come back together.
func (e *Engine) backoff(attempt int) time.Duration {
	return cloudtrail.Backoff(e.retryBase, e.retryMax, attempt)
}

// failed settles an object whose retries ran out: counted, not committed,
// and begun again by the next pass (follow) or run (it stays in flight in
// the checkpoint, so its stream's floor stays before it).
func (e *Engine) failed(j job, err error) *prepared {
	reason := cloudtrail.ReasonOf(err)
	e.st.objectsFailed.Add(1)
	e.st.failure(string(reason), e.where(j.obj)+" ("+string(reason)+")")
	if j.msg != nil {
		e.warn.Warn(string(reason), fmt.Sprintf("%v; giving up on it in this receive of SQS message %s", err, j.msg.id))
		e.sq.settle(j.msg, e.where(j.obj)+" ("+string(reason)+")")
		return &prepared{seq: j.seq, key: j.obj.Key}
	}
	e.warn.Warn(string(reason), fmt.Sprintf("%v; giving up after %d retries: not committed, read again by the next pass or run", err, e.cfg.MaxRetries))
	e.mu.Lock()
	e.run.retryKeys = append(e.run.retryKeys, j.obj.Key)
	e.mu.Unlock()
	return &prepared{seq: j.seq, key: j.obj.Key}
}

// badObject reports an object that cannot be read, emits its error record
// and commits it with that record: reading it again would fail the same way.
func (e *Engine) badObject(j job, err error) *prepared {
	reason := cloudtrail.ReasonOf(err)
	e.st.objectsBad.Add(1)
	e.st.failure(string(reason), e.where(j.obj)+" ("+string(reason)+")")
	e.warn.Warn(string(reason), err.Error())
	rb := e.newRecordBuilder(j.obj)
	rb.errorRecord(cloudtrail.ProblemText(err), nil)
	return rb.prepared(j)
}

// where names an object in logs and the summary.
func (e *Engine) where(o cloudtrail.Object) string {
	if e.cfg.S3Mode() {
		return "s3://" + e.bucketOf(o) + "/" + o.Key.Path
	}
	return o.Key.Path
}

// bucketOf is the object's bucket: the notified one in SQS mode.
func (e *Engine) bucketOf(o cloudtrail.Object) string {
	if o.Bucket != "" {
		return o.Bucket
	}
	return e.cfg.Bucket
}

// maintain logs progress every progress_interval and saves the checkpoint
// when commits are waiting to be saved.
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
			if err := e.ck.Save(); err != nil {
				e.warn.Warn("checkpoint", "saving the checkpoint failed: "+err.Error())
			}
		case <-progress:
			e.logProgress()
		}
	}
}

// checkFinished logs the summary once when a bounded run is done.
func (e *Engine) checkFinished() {
	if e.Done() {
		e.finishedOnce.Do(func() { e.logSummary("backfill finished", e.summarize()) })
	}
}
