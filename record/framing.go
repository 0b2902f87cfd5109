package record

import "fmt"

// FieldError is the field a record carries when a plugin could not process
// it (or part of it): the cloudtrail_s3 input writes it on files and events
// it cannot read, the opsworks filter on records it cannot process, and the
// filter routes upstream error records like its own.
const FieldError = "opsworks_error"

// FieldIntegrityStatus is the field of an integrity record: a problem the
// cloudtrail_s3 input's integrity validation found (log_missing,
// digest_invalid, …). The opsworks filter gives these records their own
// tag.
const FieldIntegrityStatus = "integrity_status"

// FieldRaw holds, in an error record, a value that is not an object (a
// Records element that is a string, a body that is not a map) or the element
// of a log file that could not be decoded. It is not "event": ECS puts
// event.action, event.outcome, … under an object "event" (the index
// templates alias those names), and an error record with a string there
// would be rejected by Elasticsearch. The templates map opsworks_raw as a
// disabled object, which stores any JSON value in _source unindexed.
const FieldRaw = "opsworks_raw"

// Record is one log event of a chunk, framed: its time is decoded, its
// metadata and body are left encoded.
type Record struct {
	Raw  []byte // the whole encoded record
	Time EventTime
	Meta []byte // encoded metadata map, nil for the legacy [time, body] format
	Body []byte // encoded body
}

// SplitRecord frames the record at off: [[time, meta], body] or [time, body].
// Any array width is accepted: Fluent Bit 4.0 writes array32 headers. It
// returns the record and the offset of the next one. a holds the decoded
// time only.
func SplitRecord(data []byte, off int, a *Arena) (Record, int, error) {
	rec, bodyStart, err := SplitHeader(data, off, a)
	if err != nil {
		return Record{}, 0, err
	}
	end, err := SkipMsgpack(data, bodyStart)
	if err != nil {
		return Record{}, 0, err
	}
	rec.Body = data[bodyStart:end]
	rec.Raw = data[off:end]
	return rec, end, nil
}

// SplitHeader reads a record's array headers, time and metadata, and returns
// where its body starts; Body and Raw are left for the caller to set. The
// filter's hot path uses it rather than SplitRecord to find the body's end
// while decoding it (one pass, not two).
func SplitHeader(data []byte, off int, a *Arena) (Record, int, error) {
	n, hdr := ArrayHeader(data[off:])
	if hdr == 0 || n != 2 {
		end := min(off+16, len(data))
		return Record{}, 0, &DecodeError{Format: "msgpack", Offset: off, Msg: fmt.Sprintf("record is not a 2-element array (starts % x)", data[off:end])}
	}
	off += hdr
	var rec Record
	var tv Value
	d := msgpackDecoder{buf: data, off: off, maxDepth: 4, arena: a}
	if n, hdr := ArrayHeader(data[off:]); hdr > 0 && n == 2 { // [time, metadata]
		d.off += hdr
		if err := d.decode(&tv, 3); err != nil {
			return Record{}, 0, err
		}
		metaStart := d.off
		end, err := SkipMsgpack(data, metaStart)
		if err != nil {
			return Record{}, 0, err
		}
		rec.Meta = data[metaStart:end]
		d.off = end
	} else if err := d.decode(&tv, 3); err != nil {
		return Record{}, 0, err
	}
	t, ok := timeOf(&tv)
	if !ok {
		return Record{}, 0, &DecodeError{Format: "msgpack", Offset: off, Msg: "record time is not a timestamp"}
	}
	rec.Time = t
	if d.off >= len(data) {
		return Record{}, 0, &DecodeError{Format: "msgpack", Offset: d.off, Msg: "record has no body"}
	}
	return rec, d.off, nil
}

// ArrayHeader returns an array's length and header size (0 if not an array).
func ArrayHeader(b []byte) (int, int) {
	switch {
	case len(b) >= 1 && b[0] >= 0x90 && b[0] <= 0x9f:
		return int(b[0] & 0x0f), 1
	case len(b) >= 3 && b[0] == 0xdc:
		return int(b[1])<<8 | int(b[2]), 3
	case len(b) >= 5 && b[0] == 0xdd:
		return int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4]), 5
	}
	return 0, 0
}

// AppendRecord encodes [[time, meta], body]; meta nil means an empty map.
func AppendRecord(b []byte, t EventTime, meta []byte, body *Value) []byte {
	return AppendMsgpack(AppendRecordHeader(b, t, meta), body)
}

// AppendRecordHeader encodes a record up to its body. Output always uses the
// current [[time, metadata], body] format, which every supported Fluent Bit
// reads. It is exported for the filter, which writes a body it could not
// decode after it unchanged (with one field added).
func AppendRecordHeader(b []byte, t EventTime, meta []byte) []byte {
	b = append(b, 0x92, 0x92)
	b = AppendEventTime(b, t)
	if meta == nil {
		return append(b, 0x80)
	}
	return append(b, meta...)
}
