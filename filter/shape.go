package filter

// shape.go holds shape detection: the kinds of record, the top-level fields
// the filter reads (topFields, indexTop), detect, and the undecoded peek at
// a body (peekUnselected, peekString, mapHeader).

import (
	"errors"
	"strings"

	"github.com/opsworks-trail/opsworks-trail/record"
)

// shape is what kind of record a body is.
type shape int

const (
	shapeOther shape = iota
	shapeLogFile
	shapeEvent
	shapeEventBridge
	shapeCloudWatch
	shapeText
)

// topFields are the top-level fields the filter reads, found in one pass
// over a map's keys instead of one linear lookup each.
type topFields struct {
	records, eventSource, eventName, eventType, eventTime *record.Value
	detail, detailType, logEvents, messageType            *record.Value
	sections                                              [4]*record.Value // where redaction applies: requestParameters, responseElements, additionalEventData, serviceEventDetails
}

func indexTop(m *record.Value) topFields {
	var f topFields
	first := func(dst **record.Value, v *record.Value) {
		if *dst == nil { // like Get: the first of duplicate keys wins
			*dst = v
		}
	}
	for i := 0; i+1 < len(m.Items); i += 2 {
		k, v := &m.Items[i], &m.Items[i+1]
		if k.Kind != record.KindString {
			continue
		}
		switch string(k.Str) {
		case "Records":
			first(&f.records, v)
		case "eventSource":
			first(&f.eventSource, v)
		case "eventName":
			first(&f.eventName, v)
		case "eventType":
			first(&f.eventType, v)
		case "eventTime":
			first(&f.eventTime, v)
		case "detail":
			first(&f.detail, v)
		case "detail-type":
			first(&f.detailType, v)
		case "logEvents":
			first(&f.logEvents, v)
		case "messageType":
			first(&f.messageType, v)
		case "requestParameters":
			first(&f.sections[0], v)
		case "responseElements":
			first(&f.sections[1], v)
		case "additionalEventData":
			first(&f.sections[2], v)
		case "serviceEventDetails":
			first(&f.sections[3], v)
		}
	}
	return f
}

// detect classifies a decoded map and returns its indexed fields.
func detect(body *record.Value) (shape, topFields) {
	if body.Kind != record.KindMap {
		return shapeOther, topFields{}
	}
	f := indexTop(body)
	switch {
	case f.records != nil:
		return shapeLogFile, f
	case f.eventSource != nil && f.eventName != nil:
		return shapeEvent, f
	case f.eventType.IsString("AwsCloudTrailInsight"):
		// Insight events name their source under insightDetails; they are not
		// API calls, so they are only kept by keep_other_events.
		return shapeEvent, f
	case f.detail != nil && strings.HasSuffix(f.detailType.String(), "via CloudTrail"):
		return shapeEventBridge, f
	case f.logEvents != nil && f.messageType.IsString("DATA_MESSAGE"):
		return shapeCloudWatch, f
	}
	return shapeOther, f
}

// eventKeys is what scanEventKeys found among a map's top-level keys.
type eventKeys struct {
	end       int  // where the map ends (0 when the scan stopped early)
	selected  bool // the first eventSource is a string in sources: the scan stopped there
	srcOther  bool // the first eventSource is not a string
	hasSource bool // an eventSource key was seen
	hasName   bool // an eventName key was seen
	records   bool // a Records key was seen (the scan stopped there when asked to)
}

// scanEventKeys reads the map at b[off:] key by key without decoding values,
// and skips every key and value with the decoder's nesting checks (depth is
// the nesting level of the values), so what it passes is what the full
// decode would accept. It stops at the first eventSource when that is a
// selected string, and at a Records key with stopAtRecords (a log file: its
// array is not worth skipping). Only the first of duplicate eventSource keys
// counts, as for Value.Get. The caller has checked that b[off:] is a map.
func scanEventKeys(b []byte, off, depth, maxDepth int, sources map[string]struct{}, stopAtRecords bool) (k eventKeys, err error) {
	n, hdr := mapHeader(b[off:])
	if 2*n > len(b)-off-hdr {
		return k, errTooLarge
	}
	pos := off + hdr
	for i := 0; i < n; i++ {
		key, next, isStr := peekString(b, pos)
		if !isStr { // not a string key: indexTop ignores it
			if next, err = record.SkipMsgpackDepth(b, pos, depth, maxDepth); err != nil {
				return k, err
			}
		}
		if isStr {
			switch string(key) {
			case "eventSource":
				if !k.hasSource {
					k.hasSource = true
					src, _, ok := peekString(b, next)
					if _, selected := sources[string(src)]; ok && selected {
						k.selected = true
						return k, nil
					}
					k.srcOther = !ok
				}
			case "eventName":
				k.hasName = true
			case "Records":
				k.records = true
				if stopAtRecords {
					return k, nil
				}
			}
		}
		if pos, err = record.SkipMsgpackDepth(b, next, depth, maxDepth); err != nil {
			return k, err
		}
	}
	k.end = pos
	return k, nil
}

var errTooLarge = errors.New("map larger than its buffer")

// peekUnselected reports whether the body is what detect calls a single
// CloudTrail event (eventSource and eventName, no Records) whose first
// eventSource is a string that is not in sources, and the body's end; or
// that its eventSource is selected (selected true: the caller decodes it).
// A body it drops is one the full decode would drop too.
func peekUnselected(body []byte, sources map[string]struct{}, maxDepth int) (drop, selected bool, end int) {
	if _, hdr := mapHeader(body); hdr == 0 || maxDepth < 1 {
		return false, false, 0
	}
	k, err := scanEventKeys(body, 0, 1, maxDepth, sources, true)
	switch {
	case err != nil || k.records || k.srcOther:
		return false, false, 0
	case k.selected:
		return false, true, 0
	}
	return k.hasSource && k.hasName, false, k.end
}

// peekString reads a msgpack string at off.
func peekString(b []byte, off int) ([]byte, int, bool) {
	if off >= len(b) {
		return nil, 0, false
	}
	c := b[off]
	n, start := 0, off+1
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = int(c & 0x1f)
	case c == 0xd9 && off+1 < len(b):
		n, start = int(b[off+1]), off+2
	case c == 0xda && off+2 < len(b):
		n, start = int(b[off+1])<<8|int(b[off+2]), off+3
	case c == 0xdb && off+4 < len(b):
		n, start = int(b[off+1])<<24|int(b[off+2])<<16|int(b[off+3])<<8|int(b[off+4]), off+5
	default:
		return nil, 0, false
	}
	if start+n > len(b) {
		return nil, 0, false
	}
	return b[start : start+n], start + n, true
}

// mapHeader returns a map's entry count and header length (0 if not a map).
func mapHeader(b []byte) (int, int) {
	switch {
	case len(b) >= 1 && b[0] >= 0x80 && b[0] <= 0x8f:
		return int(b[0] & 0x0f), 1
	case len(b) >= 3 && b[0] == 0xde:
		return int(b[1])<<8 | int(b[2]), 3
	case len(b) >= 5 && b[0] == 0xdf:
		return int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4]), 5
	}
	return 0, 0
}
