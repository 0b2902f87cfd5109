package archive

import (
	"strings"
	"time"

	"github.com/opsworks-trail/opsworks-trail/record"
)

// Record fields the input adds.
const (
	FieldBucket   = "s3_bucket"
	FieldKey      = "s3_key"
	FieldFilePath = "file_path" // local mode: the file's path relative to `path`
	FieldEvent    = "event"     // error records: the element that could not be used
)

// recordBuilder turns one object's events into Fluent Bit records.
type recordBuilder struct {
	e        *Engine
	obj      Object
	prov     []record.Value // provenance key/value pairs
	fallback record.EventTime
	arena    *record.Arena
	records  []byte
	count    int
}

func (e *Engine) newRecordBuilder(o Object) *recordBuilder {
	rb := &recordBuilder{e: e, obj: o, arena: record.NewArena()}
	if e.cfg.S3Mode() {
		rb.prov = []record.Value{record.StringValue(FieldBucket), record.StringValue(e.bucketOf(o)),
			record.StringValue(FieldKey), record.StringValue(o.Key.Path)}
	} else {
		rb.prov = []record.Value{record.StringValue(FieldFilePath), record.StringValue(o.Key.Path)}
	}
	t := o.Key.Time
	if t.IsZero() {
		t = e.deps.Now()
	}
	rb.fallback = eventTime(t)
	return rb
}

func eventTime(t time.Time) record.EventTime {
	return record.EventTime{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// encode turns a read object into its records (see "Records" in the
// package documentation) and settles an object with none.
func (e *Engine) encode(j job, res *Result) *prepared {
	stored := j.obj.Size
	if stored == 0 {
		stored = res.Stored // SQS mode: notifications do not all carry the size
	}
	e.st.read(stored, res)
	rb := e.newRecordBuilder(j.obj)
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
		e.delivered(j.obj.Key, j.msg) // nothing to deliver: done already
	}
	return rb.prepared(j)
}

func (rb *recordBuilder) prepared(j job) *prepared {
	rb.e.st.records.Add(int64(rb.count))
	return &prepared{seq: j.seq, key: rb.obj.Key, msg: j.msg, records: rb.records, count: rb.count}
}

// decode parses one kept event; a failure (invalid UTF-8, which the
// splitter does not check) becomes an error record.
func (rb *recordBuilder) decode(ev []byte) (record.Value, bool) {
	v, err := record.DecodeJSON(ev, maxNesting+1, rb.arena)
	if err != nil {
		rb.badElement("invalid event: "+err.Error(), ev)
		return record.Value{}, false
	}
	return v, true
}

// eventRecord appends one event with its provenance, at its eventTime.
func (rb *recordBuilder) eventRecord(ev []byte) {
	v, ok := rb.decode(ev)
	if !ok {
		return
	}
	items := make([]record.Value, 0, len(v.Items)+len(rb.prov))
	for i := 0; i+1 < len(v.Items); i += 2 {
		if !rb.isProvenanceKey(&v.Items[i]) { // ours win: never a duplicate key
			items = append(items, v.Items[i], v.Items[i+1])
		}
	}
	body := record.Value{Kind: record.KindMap, Items: append(items, rb.prov...)}
	rb.append(rb.timeOf(&v), &body)
}

func (rb *recordBuilder) isProvenanceKey(k *record.Value) bool {
	for i := 0; i < len(rb.prov); i += 2 {
		if k.IsString(string(rb.prov[i].Str)) {
			return true
		}
	}
	return false
}

// objectRecord appends {"Records": [events], provenance} when any event
// was kept.
func (rb *recordBuilder) objectRecord(events [][]byte) {
	arr := make([]record.Value, 0, len(events))
	for _, ev := range events {
		if v, ok := rb.decode(ev); ok {
			arr = append(arr, v)
		}
	}
	if len(arr) == 0 {
		return
	}
	items := append([]record.Value{record.StringValue("Records"), {Kind: record.KindArray, Items: arr}}, rb.prov...)
	rb.append(rb.fallback, &record.Value{Kind: record.KindMap, Items: items})
}

// badElement reports a Records element that is not a usable event and
// emits it as an error record.
func (rb *recordBuilder) badElement(problem string, raw []byte) {
	reason := problem
	if strings.HasPrefix(problem, "Records[") {
		reason = "not an object"
	} else if i := strings.IndexByte(problem, ':'); i > 0 {
		reason = problem[:i]
	}
	rb.e.st.failure(reason, "")
	rb.e.warn.Warn(reason, rb.e.where(rb.obj)+": "+problem)
	var elem record.Value
	if v, err := record.DecodeJSON(raw, maxNesting+1, rb.arena); err == nil {
		elem = v
	} else {
		elem = record.StringValue(strings.ToValidUTF8(string(raw), "\uFFFD"))
	}
	rb.errorRecord(problem, &elem)
}

// errorRecord appends {"opsworks_error": problem, provenance[, "event": elem]}.
func (rb *recordBuilder) errorRecord(problem string, elem *record.Value) {
	items := append([]record.Value{record.StringValue(record.FieldError), record.StringValue(problem)}, rb.prov...)
	if elem != nil {
		items = append(items, record.StringValue(FieldEvent), *elem)
	}
	rb.e.st.errorRecords.Add(1)
	rb.append(rb.fallback, &record.Value{Kind: record.KindMap, Items: items})
}

func (rb *recordBuilder) append(t record.EventTime, body *record.Value) {
	rb.records = record.AppendValueRecord(rb.records, t, body)
	rb.count++
}

// timeOf is the event's eventTime (RFC 3339), else the fallback.
func (rb *recordBuilder) timeOf(v *record.Value) record.EventTime {
	if s := v.Get("eventTime"); s != nil && s.Kind == record.KindString {
		if t, err := time.Parse(time.RFC3339Nano, string(s.Str)); err == nil {
			return eventTime(t)
		}
	}
	return rb.fallback
}
