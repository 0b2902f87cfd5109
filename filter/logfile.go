package filter

// logfile.go holds the log-file fast path: a {"Records": [...]} body is
// framed with its Records array read element by element on the msgpack
// (frameLogFile, scanRecords): an element whose eventSource is not selected
// is skipped undecoded, only the others are decoded and go through event
// (logFileEvents). On 1 % OpsWorks files, decoding every event only to drop
// it was almost all of the filter's cost (issue 14). The full decode
// (Processor.fullDecode) stays the reference and the fallback: whatever this
// path cannot vouch for is decoded whole, as before.

import (
	"github.com/opsworks-trail/opsworks-trail/record"
)

// frameLogFile decodes the body at data[start:] when it is a map whose first
// Records key holds an array: every top-level entry but that array is decoded
// (they are the carrier fields copied into each event), and of the array's
// elements only those event would not drop (scanRecords). ok is false for
// any other body, or one with something DecodeMsgpack would refuse: the
// caller then decodes it whole, which reports the error.
func (p *Processor) frameLogFile(data []byte, start int, ws *workspace) (end int, ok bool) {
	n, hdr := mapHeader(data[start:])
	if hdr == 0 || 2*n > len(data)-start-hdr || !hasRecordsArray(data[start:], n, hdr) {
		return 0, false
	}
	maxDepth := p.cfg.MaxDepth
	items := ws.top[:0]
	off := start + hdr
	badUTF8 := 0
	var records []byte
	for i := 0; i < n; i++ {
		var k, v record.Value
		next, bad, err := record.DecodeMsgpack(data, off, maxDepth-1, &ws.arena, &k)
		if err != nil {
			return 0, false
		}
		badUTF8 += bad
		off = next
		if records == nil && k.IsString("Records") {
			end, ok := p.scanRecords(data, off, ws)
			if !ok {
				return 0, false
			}
			records = data[off:end:end]
			v = record.Value{Kind: record.KindArray, Raw: records}
			off = end
		} else {
			next, bad, err = record.DecodeMsgpack(data, off, maxDepth-1, &ws.arena, &v)
			if err != nil {
				return 0, false
			}
			badUTF8 += bad
			off = next
		}
		items = append(items, k, v)
	}
	ws.top, ws.records = items, records
	ws.body0 = record.Value{Kind: record.KindMap, Items: items, Raw: data[start:off:off]}
	// Only the carrier fields were decoded here; each event's own strings
	// were counted when it was decoded (logFileEvents).
	ws.mayHaveBadUTF8 = badUTF8 > 0
	return off, true
}

// hasRecordsArray reports whether the first Records key of the map whose
// entries start at body[off:] holds an array. It reads keys only up to that
// key, skipping values unchecked (frameLogFile checks them).
func hasRecordsArray(body []byte, n, off int) bool {
	for i := 0; i < n; i++ {
		key, next, isStr := peekString(body, off)
		if !isStr {
			k, err := record.SkipMsgpack(body, off)
			if err != nil {
				return false
			}
			next = k
		}
		if isStr && string(key) == "Records" {
			_, h := record.ArrayHeader(body[next:])
			return h > 0
		}
		end, err := record.SkipMsgpack(body, next)
		if err != nil {
			return false
		}
		off = end
	}
	return false
}

// logEvent is a Records element frameLogFile decoded.
type logEvent struct {
	index   int // in Records
	badUTF8 bool
	v       record.Value
}

// scanRecords reads the Records array at data[off:] (nesting level 1): the
// elements event would drop (maps whose first eventSource is not selected)
// are skipped, checked as DecodeMsgpack would check them; the others are
// decoded into ws.events. Dropping happens here, before anything is written,
// because a bad element anywhere makes the whole record an error.
func (p *Processor) scanRecords(data []byte, off int, ws *workspace) (end int, ok bool) {
	n, hdr := record.ArrayHeader(data[off:])
	if hdr == 0 || n > len(data)-off-hdr {
		return 0, false
	}
	off += hdr
	ws.events, ws.dropped = ws.events[:0], 0
	for i := 0; i < n; i++ {
		if !p.cfg.KeepOtherEvents {
			end, dropped, err := p.skipUnselected(data, off)
			if err != nil {
				return 0, false
			}
			if dropped {
				ws.dropped++
				off = end
				continue
			}
		}
		ws.events = append(ws.events, logEvent{index: i})
		ev := &ws.events[len(ws.events)-1]
		// Elements sit at nesting level 2 (body map, Records array).
		next, ok := decodeEvent(data, off, p.cfg.MaxDepth-2, ws, &ev.v)
		if !ok {
			return 0, false
		}
		ev.badUTF8 = ws.mayHaveBadUTF8
		off = next
	}
	return off, true
}

// skipUnselected skips the Records element at data[off:] when it is a map
// whose first eventSource (a string or not) is not a selected source, or
// that has none: event drops those. Values are skipped with the decoder's
// nesting checks (elements sit at level 2, their values at 3). dropped is
// false, and nothing skipped, for an element that is to be decoded.
func (p *Processor) skipUnselected(data []byte, off int) (end int, dropped bool, err error) {
	if _, hdr := mapHeader(data[off:]); hdr == 0 {
		return 0, false, nil
	}
	k, err := scanEventKeys(data, off, 3, p.cfg.MaxDepth, p.sources, false)
	if err != nil || k.selected {
		return 0, false, err
	}
	return k.end, true, nil
}

// logFileEvents is dispatch's loop over a log file's events when
// frameLogFile read it: the dropped elements are counted, the others go
// through event in order.
func (p *Processor) logFileEvents(ws *workspace, rec *record.Record, carrier *record.Value, res *Result) {
	p.Stats.Events.Add(uint64(ws.dropped))
	p.Stats.Dropped.Add(uint64(ws.dropped))
	for i := range ws.events {
		ev := &ws.events[i]
		ws.mayHaveBadUTF8 = ev.badUTF8
		p.event(ws, rec, &ev.v, nil, carrier, res, location{"Records", ev.index, ""})
	}
}

// decodeEvent decodes the event at data[off:] into v and sets
// ws.mayHaveBadUTF8; ok is false when the decoder refuses it. (Carrying the
// fields the filter does not read encoded instead, as issue 14 proposed, was
// measured: tlsDetails is the only such field of a usual event, and looking
// up every key cost more than decoding it, +3.8 % per single event.)
func decodeEvent(data []byte, off, maxDepth int, ws *workspace, v *record.Value) (end int, ok bool) {
	next, bad, err := record.DecodeMsgpack(data, off, maxDepth, &ws.arena, v)
	ws.mayHaveBadUTF8 = bad > 0
	return next, err == nil
}
