package filter

// emit.go holds the processor's output side: event (one CloudTrail event
// selected, checked, classified, redacted, timed, rebuilt and kept or emitted
// under its variant's tag by tagFor), the error records (recordError,
// eventError, writeError, appendWithField) and route, which keeps them or
// sends them to error_tag; location names an event in error messages.

import (
	"fmt"

	"github.com/opsworks-trail/opsworks-trail/record"
)

// event transforms one CloudTrail event and writes it to res. fields are its
// indexed top-level fields when the caller has them already, else nil.
func (p *Processor) event(ws *workspace, rec *record.Record, ev *record.Value, fields *topFields, carrier *record.Value, res *Result, where location) {
	p.Stats.Events.Add(1)
	if ev.Kind != record.KindMap {
		p.eventError(ws, rec, ev, res, fmt.Sprintf("%s is a %s, not an object", where, ev.Kind))
		return
	}
	if fields == nil {
		f := indexTop(ev)
		fields = &f
	}
	src := fields.eventSource
	_, selected := p.sources[src.String()]
	if !selected && !p.cfg.KeepOtherEvents {
		p.Stats.Dropped.Add(1)
		return
	}
	if bad := checkUTF8(ws, ev); bad != "" {
		p.eventError(ws, rec, ev, res, fmt.Sprintf("%s: %s is not valid UTF-8", where, bad))
		return
	}
	variant := ""
	if selected {
		variant = classify(ev, src, p.memory)
	}
	if len(p.redact) > 0 {
		for _, v := range fields.sections {
			if v != nil {
				ws.redactor.redactValue(v, false, 0)
			}
		}
	}
	t, warning := rec.Time, ""
	if p.cfg.UseEventTime {
		if et, ok := parseEventTime(fields.eventTime); ok {
			t = et
		} else {
			p.Stats.TimeWarnings.Add(1)
			warning = fmt.Sprintf("eventTime %s is not an RFC 3339 timestamp; the record time was kept", quoteValue(fields.eventTime))
		}
	}
	body := buildBody(ws, p.cfg, ev, carrier, variant, warning)
	ws.out = record.AppendRecord(ws.out[:0], t, rec.Meta, &body)
	if len(ws.out) > p.cfg.MaxEventSize {
		p.eventError(ws, rec, ev, res, fmt.Sprintf("%s: event of %d bytes exceeds max_event_size (%d)", where, len(ws.out), p.cfg.MaxEventSize))
		return
	}
	p.Stats.Kept.Add(1)
	if variant != "" && p.cfg.Retag {
		e := res.emitBuf(p.tagFor(variant))
		e.add(ws.out)
		return
	}
	res.Keep = append(res.Keep, ws.out...)
	res.KeepN++
}

// location names where an event sits in its record, for error messages; it is
// only formatted when there is an error.
type location struct {
	name   string // "" for the record itself
	index  int    // -1 when not an array element
	suffix string
}

func (l location) String() string {
	switch {
	case l.name == "":
		return "event"
	case l.index < 0:
		return l.name + l.suffix
	}
	return fmt.Sprintf("%s[%d]%s", l.name, l.index, l.suffix)
}

// tagFor is tag_prefix + variant without allocating for the known variants.
func (p *Processor) tagFor(variant string) string {
	if t, ok := p.tags[variant]; ok {
		return t
	}
	return p.cfg.TagPrefix + variant
}

// recordError keeps the whole record unmodified plus opsworks_error (or sends
// it to error_tag). carrier, when set, is the already-decoded body.
func (p *Processor) recordError(ws *workspace, rec *record.Record, carrier *record.Value, res *Result, msg string) {
	p.Stats.Errors.Add(1)
	p.warnings.Warn("record", msg)
	res.Modified = true
	if carrier != nil {
		p.writeError(ws, rec, carrier, res, msg)
		return
	}
	// The body could not be decoded (too deep, corrupt): add the field by
	// rewriting only the map header, so the original bytes stay as they are.
	ws.out = record.AppendRecordHeader(ws.out[:0], rec.Time, rec.Meta)
	ws.out = appendWithField(ws.out, rec.Body, FieldError, msg)
	p.route(ws.out, res)
}

// eventError keeps one bad event (an element of Records, a logEvents entry)
// with opsworks_error, so the rest of its record can still be processed.
func (p *Processor) eventError(ws *workspace, rec *record.Record, ev *record.Value, res *Result, msg string) {
	p.Stats.Errors.Add(1)
	p.warnings.Warn("event", msg)
	body := *ev
	if ev.Kind != record.KindMap {
		body = record.Value{Kind: record.KindMap, Items: []record.Value{record.StringValue(record.FieldRaw), *ev}}
	}
	p.writeError(ws, rec, &body, res, msg)
}

func (p *Processor) writeError(ws *workspace, rec *record.Record, body *record.Value, res *Result, msg string) {
	items := make([]record.Value, 0, len(body.Items)+2)
	for i := 0; i+1 < len(body.Items); i += 2 {
		if !body.Items[i].IsString(FieldError) {
			items = append(items, body.Items[i], body.Items[i+1])
		}
	}
	items = append(items, record.StringValue(FieldError), record.StringValue(msg))
	out := record.Value{Kind: record.KindMap, Items: items}
	ws.out = record.AppendRecord(ws.out[:0], rec.Time, rec.Meta, &out)
	p.route(ws.out, res)
}

// route sends an error record to error_tag, or keeps it in the stream.
func (p *Processor) route(encoded []byte, res *Result) {
	if p.cfg.ErrorTag != "" && p.cfg.Retag {
		e := res.emitBuf(p.cfg.ErrorTag)
		e.add(encoded)
		return
	}
	res.Keep = append(res.Keep, encoded...)
	res.KeepN++
}

// appendWithField appends body (encoded) with key: val added. A body that is
// not a map is wrapped as {"opsworks_raw": body, key: val}.
func appendWithField(b []byte, body []byte, key, val string) []byte {
	n, hdr := mapHeader(body)
	if hdr == 0 {
		b = record.AppendMapHeader(b, 2)
		b = record.AppendString(b, record.FieldRaw)
		b = append(b, body...)
	} else {
		b = record.AppendMapHeader(b, n+1)
		b = append(b, body[hdr:]...)
	}
	b = record.AppendString(b, key)
	return record.AppendString(b, val)
}
