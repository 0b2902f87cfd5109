package input

import (
	"fmt"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/integrity"
	"github.com/opsworks-trail/opsworks-trail/record"
)

// worker reads objects until the source ends.
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
	if j.findings != nil {
		return e.integrityRecords(j)
	}
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
	case cloudtrail.Retryable(err), e.src.redeliverable(cloudtrail.ReasonOf(err)):
		return e.failed(j, err)
	}
	return e.badObject(j, err)
}

// readWithRetries reads an object, again after retryable errors, with
// exponential backoff, at most max_retries more times.
func (e *Engine) readWithRetries(o cloudtrail.Object) (*cloudtrail.Result, error) {
	for attempt := 0; ; attempt++ {
		if err := e.gate.wait(e.ctx); err != nil {
			return nil, err
		}
		res, err := e.store.read(e.ctx, e.reader, o)
		if err == nil || !cloudtrail.Retryable(err) || attempt >= e.cfg.MaxRetries || e.ctx.Err() != nil {
			return res, err
		}
		e.st.retries.Add(1)
		wait := e.retry.backoff(attempt)
		msg := fmt.Sprintf("%v; retrying in %s (retry %d of %d)", err, wait.Round(time.Millisecond), attempt+1, e.cfg.MaxRetries)
		if reason := cloudtrail.ReasonOf(err); reason == cloudtrail.ReasonTimeout {
			e.warn.Warn(string(reason), msg) // a stalled body or a call with no answer: worth seeing
		} else {
			e.logf(LogDebug, "%s", msg)
		}
		if !sleep(e.ctx, wait) {
			return nil, e.ctx.Err()
		}
	}
}

// failed settles an object whose retries ran out: counted, not delivered,
// and left to the source to bring back (see source.gaveUp).
func (e *Engine) failed(j job, err error) *prepared {
	reason := cloudtrail.ReasonOf(err)
	e.st.objectsFailed.Add(1)
	e.st.failure(string(reason), e.store.where(j.obj)+" ("+string(reason)+")")
	e.src.gaveUp(j, err)
	return &prepared{seq: j.seq, key: j.obj.Key}
}

// badObject reports an object that cannot be read, emits its error record
// and delivers it with that record: reading it again would fail the same
// way.
func (e *Engine) badObject(j job, err error) *prepared {
	reason := cloudtrail.ReasonOf(err)
	e.st.objectsBad.Add(1)
	e.st.failure(string(reason), e.store.where(j.obj)+" ("+string(reason)+")")
	e.warn.Warn(string(reason), err.Error())
	rb := e.newRecordBuilder(j.obj)
	rb.errorRecord(cloudtrail.ProblemText(err), nil)
	return rb.prepared(j)
}

// encode turns a read object into its records (see "Records" in the
// package documentation) and settles an object with none. The records are
// copies, so the object's buffer goes back for the next read.
func (e *Engine) encode(j job, res *cloudtrail.Result) *prepared {
	defer res.Release()
	stored := j.obj.Size
	if stored == 0 {
		stored = res.Stored // SQS mode: notifications do not all carry the size
	}
	e.st.read(stored, res)
	rb := e.newRecordBuilder(j.obj)
	if j.judge != nil {
		f := j.judge(res.SHA256)
		e.st.integrity(f.Status)
		rb.prov = append(rb.prov, record.StringValue(FieldIntegrity), record.StringValue(f.Status))
		if f.Status != integrity.StatusValid {
			f.Bucket = e.store.bucketOf(j.obj)
			rb.integrityRecord(f)
		}
	}
	if e.cfg.RecordMode == RecordModeObject {
		rb.objectRecord(res.Events)
	} else {
		for _, ev := range res.Events {
			rb.eventRecord(ev)
		}
	}
	for _, bad := range res.NotObjects {
		rb.badElement(bad.String(), bad.Raw)
	}
	if rb.count == 0 {
		e.src.delivered(j) // nothing to deliver: done already
	}
	return rb.prepared(j)
}

// integrityRecords turns an integrity job's findings into records.
func (e *Engine) integrityRecords(j job) *prepared {
	rb := e.newRecordBuilder(j.obj)
	rb.prov = nil // each record names its own file
	for _, f := range j.findings {
		rb.integrityRecord(f)
	}
	return rb.prepared(j)
}

// newRecordBuilder starts the records of one object: its provenance, and
// its delivery time (else now) as the fallback record time.
func (e *Engine) newRecordBuilder(o cloudtrail.Object) *recordBuilder {
	t := o.Key.Time
	if t.IsZero() {
		t = o.Named
	}
	if t.IsZero() {
		t = e.now()
	}
	return newRecordBuilder(o, e.store.provenance(o), t, recordReport{logf: e.logf, st: &e.st, warn: e.warn, where: e.store.where(o)})
}
