package input

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/integrity"
	"github.com/opsworks-trail/opsworks-trail/internal/ratelimit"
	"github.com/opsworks-trail/opsworks-trail/record"
)

// Record fields the input adds.
const (
	FieldBucket   = "s3_bucket"
	FieldKey      = "s3_key"
	FieldFilePath = "file_path"     // local mode: the file's path relative to `path`
	FieldRaw      = record.FieldRaw // error records: the element that could not be used
)

// recordReport is where a recordBuilder counts what it made and warns
// about bad elements.
type recordReport struct {
	logf  func(level int, format string, args ...any)
	st    *stats
	warn  *ratelimit.Limiter
	where string // the object, in warnings
}

// recordBuilder turns one object's events into Fluent Bit records.
type recordBuilder struct {
	report   recordReport
	obj      cloudtrail.Object
	prov     []record.Value // provenance key/value pairs
	fallback record.EventTime
	arena    *record.Arena
	records  []byte
	count    int
}

// newRecordBuilder starts an object's records: prov are the key/value
// pairs every record gets, fallback the time of records without an
// eventTime.
func newRecordBuilder(o cloudtrail.Object, prov []record.Value, fallback time.Time, report recordReport) *recordBuilder {
	return &recordBuilder{report: report, obj: o, prov: prov, arena: record.NewArena(), fallback: eventTime(fallback)}
}

func eventTime(t time.Time) record.EventTime {
	return record.EventTime{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

func (rb *recordBuilder) prepared(j job) *prepared {
	rb.report.st.records.Add(int64(rb.count))
	return &prepared{seq: j.seq, key: rb.obj.Key, msg: j.msg, records: rb.records, count: rb.count}
}

// decode parses one kept event; a failure (invalid UTF-8, which the
// splitter does not check) becomes an error record.
func (rb *recordBuilder) decode(ev []byte) (record.Value, bool) {
	v, err := record.DecodeJSON(ev, cloudtrail.MaxNesting+1, rb.arena)
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
	rb.report.st.failure(reason, "")
	rb.report.warn.Warn(reason, rb.report.where+": "+problem)
	var elem record.Value
	if v, err := record.DecodeJSON(raw, cloudtrail.MaxNesting+1, rb.arena); err == nil {
		elem = v
	} else {
		elem = record.StringValue(strings.ToValidUTF8(string(raw), "\uFFFD"))
	}
	rb.errorRecord(problem, &elem)
}

// errorRecord appends {"opsworks_error": problem, provenance[, "opsworks_raw": elem]}.
func (rb *recordBuilder) errorRecord(problem string, elem *record.Value) {
	items := append([]record.Value{record.StringValue(record.FieldError), record.StringValue(problem)}, rb.prov...)
	if elem != nil {
		items = append(items, record.StringValue(FieldRaw), *elem)
	}
	rb.report.st.errorRecords.Add(1)
	rb.append(rb.fallback, &record.Value{Kind: record.KindMap, Items: items})
}

// IntegrityID is an integrity record's eventID: "integrity-" and 32 hex
// digits of the SHA-256 of its status, bucket and key. The search
// pipelines write documents with _id = eventID (Id_Key), so a finding
// found again (a re-run, a follow pass) overwrites its document instead of
// adding one; no CloudTrail eventID has this form (they are UUIDs).
func IntegrityID(f integrity.Finding) string {
	sum := sha256.Sum256([]byte(f.Status + "\x00" + f.Bucket + "\x00" + f.Key))
	return "integrity-" + hex.EncodeToString(sum[:16])
}

// integrityRecord appends {"integrity_status", "s3_bucket", "s3_key",
// "detail", "eventID"[, "digest_key", "delivered", "period_start", "period_end"]} at
// the time the finding is about (see integrity.FindingTime), and logs it: a problem
// found by integrity validation (see "Integrity" in the README).
func (rb *recordBuilder) integrityRecord(f integrity.Finding) {
	str := record.StringValue
	items := []record.Value{str(record.FieldIntegrityStatus), str(f.Status)}
	if f.Bucket != "" {
		items = append(items, str(FieldBucket), str(f.Bucket))
	}
	items = append(items, str(FieldKey), str(f.Key), str(FieldDetail), str(f.Detail), str("eventID"), str(IntegrityID(f)))
	if f.DigestKey != "" {
		items = append(items, str(FieldDigestKey), str(f.DigestKey))
	}
	for _, t := range []struct {
		key string
		at  *time.Time
	}{{FieldDelivered, f.Delivered}, {FieldPeriodStart, f.Start}, {FieldPeriodEnd, f.End}} {
		if t.at != nil {
			items = append(items, str(t.key), str(t.at.UTC().Format(time.RFC3339)))
		}
	}
	level := LogInfo // chain_gap, log_unverified, digest_unsigned: worth knowing, not alarming
	if integrity.Tampered(f.Status) {
		level = LogError
	}
	rb.report.logf(level, "integrity: %s: %s: %s", f.Status, f.Key, f.Detail)
	rb.append(eventTime(integrity.FindingTime(f, time.Unix(rb.fallback.Sec, rb.fallback.Nsec))), &record.Value{Kind: record.KindMap, Items: items})
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
