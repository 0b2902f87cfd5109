package cloudtrail

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// The Records splitter: a log file is split into the raw bytes of its events
// without building any value, so that events from other services (typically
// 99% of a trail) are dropped by comparing one string instead of being
// decoded: while validating each event, the scanner notes its top-level
// eventSource value.
//
// The scanner validates JSON grammar (structure, string escapes, control
// characters, numbers, literals), so an object whose dropped events are
// malformed is still reported as invalid JSON, as the filter would. It does
// not validate UTF-8: the kept events are decoded by the filter, which
// reports bad UTF-8 per event.

// maxNesting bounds container nesting inside one value. It is far above
// anything CloudTrail writes and below encoding/json's limit, and keeps the
// scanner's stack small on hostile input.
const MaxNesting = 1000

type scanner struct {
	buf   []byte
	stack []byte // closing bracket of each open container
}

// syntaxError is a grammar error at a byte offset of the document.
type syntaxError struct {
	offset int
	msg    string
	where  string // the Records element it is in, if any
}

func (e *syntaxError) Error() string { return fmt.Sprintf("byte %d: %s", e.offset, e.msg) }

func (s *scanner) fail(off int, format string, args ...any) error {
	return &syntaxError{offset: off, msg: fmt.Sprintf(format, args...)}
}

// found describes the byte at off for error messages.
func (s *scanner) found(off int) string {
	if off >= len(s.buf) {
		return "end of input"
	}
	if c := s.buf[off]; c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("'%c'", c)
	}
	return fmt.Sprintf("byte 0x%02x", s.buf[off])
}

func (s *scanner) ws(off int) int {
	for off < len(s.buf) {
		switch s.buf[off] {
		case ' ', '\t', '\n', '\r':
			off++
		default:
			return off
		}
	}
	return off
}

// skipValue returns the offset just after the JSON value at off (leading
// whitespace allowed). It is iterative, so hostile nesting cannot exhaust
// the goroutine stack.
func (s *scanner) skipValue(off int) (int, error) {
	s.stack = s.stack[:0]
	for {
		var err error
		off = s.ws(off)
		if off >= len(s.buf) {
			return off, s.fail(off, "expected a value, found end of input")
		}
		switch c := s.buf[off]; {
		case c == '{' || c == '[':
			var pushed bool
			if off, pushed, err = s.open(off); err != nil {
				return off, err
			}
			if pushed {
				continue // a value of the new container comes next
			}
		case c == '"':
			off, err = s.skipString(off)
		case c == '-' || c >= '0' && c <= '9':
			off, err = s.skipNumber(off)
		case c == 't':
			off, err = s.literal(off, "true")
		case c == 'f':
			off, err = s.literal(off, "false")
		case c == 'n':
			off, err = s.literal(off, "null")
		default:
			return off, s.fail(off, "expected a value, found %s", s.found(off))
		}
		if err != nil {
			return off, err
		}
		if off, err = s.afterValue(off); err != nil || len(s.stack) == 0 {
			return off, err
		}
	}
}

// open handles '{' or '[' at off. An empty container is consumed whole
// (pushed is false, the offset is after its closing bracket); otherwise the
// container is pushed and the offset is where its first value starts.
func (s *scanner) open(off int) (next int, pushed bool, err error) {
	if len(s.stack) >= MaxNesting {
		return off, false, s.fail(off, "nesting deeper than %d levels", MaxNesting)
	}
	c := s.buf[off]
	closing := byte('}')
	if c == '[' {
		closing = ']'
	}
	next = s.ws(off + 1)
	if next < len(s.buf) && s.buf[next] == closing {
		return next + 1, false, nil
	}
	s.stack = append(s.stack, closing)
	if c == '{' {
		next, err = s.memberKey(next)
	}
	return next, true, err
}

// afterValue closes finished containers and moves to the next element or
// member. With an empty stack it returns at once (the value is complete).
func (s *scanner) afterValue(off int) (int, error) {
	for len(s.stack) > 0 {
		off = s.ws(off)
		closing := s.stack[len(s.stack)-1]
		if off >= len(s.buf) {
			return off, s.fail(off, "expected ',' or '%c', found end of input", closing)
		}
		switch s.buf[off] {
		case closing:
			off++
			s.stack = s.stack[:len(s.stack)-1]
		case ',':
			if closing == '}' {
				return s.memberKey(s.ws(off + 1))
			}
			return off + 1, nil
		default:
			return off, s.fail(off, "expected ',' or '%c', found %s", closing, s.found(off))
		}
	}
	return off, nil
}

// memberKey reads `"key" :` at off and returns where the member's value
// starts.
func (s *scanner) memberKey(off int) (int, error) {
	_, valueAt, err := s.key(off)
	return valueAt, err
}

// key reads `"key" :` at off; key is the raw (still escaped) name.
func (s *scanner) key(off int) (key []byte, valueAt int, err error) {
	if off >= len(s.buf) || s.buf[off] != '"' {
		return nil, off, s.fail(off, "expected a string key, found %s", s.found(off))
	}
	end, err := s.skipString(off)
	if err != nil {
		return nil, end, err
	}
	colon := s.ws(end)
	if colon >= len(s.buf) || s.buf[colon] != ':' {
		return nil, colon, s.fail(colon, "expected ':' after object key, found %s", s.found(colon))
	}
	return s.buf[off+1 : end-1], colon + 1, nil
}

func (s *scanner) literal(off int, word string) (int, error) {
	if !bytes.HasPrefix(s.buf[off:], []byte(word)) {
		return off, s.fail(off, "expected %q, found %s", word, s.found(off))
	}
	return off + len(word), nil
}

// SWAR constants: a word with every byte set to 0x01 / 0x80.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// mayNeedAttention reports whether any of 8 bytes is '"', '\\' or a
// control character. It can only err towards true, which costs a byte-wise
// look, never a wrong answer.
func mayNeedAttention(w uint64) bool {
	hasZero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	below0x20 := (w - ones*0x20) & ^w & highs
	return below0x20|hasZero(w^(ones*'"'))|hasZero(w^(ones*'\\')) != 0
}

// skipString returns the offset after the string starting at off (a '"').
// Plain runs are skipped 8 bytes at a time: strings are most of a log file.
func (s *scanner) skipString(off int) (int, error) {
	b := s.buf
	i := off + 1
	for {
		for i+8 <= len(b) && !mayNeedAttention(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= len(b) {
			return i, s.fail(off, "unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			n, err := s.escape(i)
			if err != nil {
				return i, err
			}
			i += n
		case c < 0x20:
			return i, s.fail(i, "control character 0x%02x in string", c)
		default:
			i++
		}
	}
}

// escape checks the escape sequence at i (a backslash) and returns its length.
func (s *scanner) escape(i int) (int, error) {
	if i+1 >= len(s.buf) {
		return 0, s.fail(i, "unterminated string")
	}
	switch s.buf[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		if i+6 > len(s.buf) {
			return 0, s.fail(i, "truncated \\u escape")
		}
		for _, h := range s.buf[i+2 : i+6] {
			if !isHex(h) {
				return 0, s.fail(i, "invalid \\u escape")
			}
		}
		return 6, nil
	}
	return 0, s.fail(i, "invalid escape '\\%c'", s.buf[i+1])
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// skipNumber follows RFC 8259's number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) skipNumber(off int) (int, error) {
	b, i := s.buf, off
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return i, s.fail(i, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		if i = skipDigits(b, i+1); b[i-1] == '.' {
			return i, s.fail(i, "invalid number: no digits after '.'")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		if i = skipDigits(b, i); i == start {
			return i, s.fail(i, "invalid number: no digits in exponent")
		}
	}
	return i, nil
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// shapeError is valid JSON (or no JSON at all) that is not a log file.
type shapeError struct {
	reason Reason
	detail string
}

func (e *shapeError) Error() string { return e.detail }

// splitRecords calls fn with the raw bytes of each element of the
// document's top-level "Records" array (without surrounding whitespace), in
// order, and with the raw value of the element's eventSource (see
// skipElement). The whole document is validated; on any error the caller
// must discard what fn received. The first "Records" member wins, as in the
// filter's decoder.
func splitRecords(doc []byte, fn func(event, source []byte)) error {
	s := scanner{buf: doc, stack: make([]byte, 0, 32)}
	off := s.ws(0)
	if off >= len(doc) {
		return &shapeError{ReasonEmpty, "only whitespace"}
	}
	if doc[off] != '{' {
		return s.notAnObject(off)
	}
	off = s.ws(off + 1)
	found := false
	for off >= len(doc) || doc[off] != '}' {
		key, valueAt, err := s.key(off)
		if err != nil {
			return err
		}
		valueAt = s.ws(valueAt)
		if !found && keyIs(key, "Records") {
			found = true
			off, err = s.splitArray(valueAt, fn)
		} else {
			off, err = s.skipValue(valueAt)
		}
		if err != nil {
			return err
		}
		if off = s.ws(off); off < len(doc) && doc[off] == ',' {
			off = s.ws(off + 1)
			continue
		}
		if off >= len(doc) || doc[off] != '}' {
			return s.fail(off, "expected ',' or '}' after object member, found %s", s.found(off))
		}
	}
	if end := s.ws(off + 1); end != len(doc) {
		return s.fail(end, "unexpected %s after the end of the document", s.found(end))
	}
	if !found {
		return &shapeError{ReasonNoRecords, "the object has no \"Records\" key (a digest file, or not a CloudTrail log file)"}
	}
	return nil
}

// notAnObject explains a document that does not start with '{'.
func (s *scanner) notAnObject(off int) error {
	end, err := s.skipValue(off)
	if err != nil {
		if isValueStart(s.buf[off]) {
			return err
		}
		return &shapeError{ReasonNotJSON, fmt.Sprintf("starts with % x", s.buf[off:min(off+8, len(s.buf))])}
	}
	if end = s.ws(end); end != len(s.buf) {
		return s.fail(end, "unexpected %s after the end of the document", s.found(end))
	}
	return &shapeError{ReasonNoRecords, "the document is " + describeValue(s.buf[off]) + ", not an object with \"Records\""}
}

func isValueStart(c byte) bool {
	return c == '{' || c == '[' || c == '"' || c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f' || c == 'n'
}

func describeValue(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	}
	return "a number"
}

// keyIs compares a raw (still escaped) key with name.
func keyIs(raw []byte, name string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	return unescape(raw) == name
}

// unescape decodes the raw contents of a JSON string. Escapes are rare in
// keys and eventSource values (CloudTrail writes none there), so
// encoding/json does it.
func unescape(raw []byte) string {
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) != nil {
		return ""
	}
	return s
}

// splitArray walks the array at off, calling fn with each element.
func (s *scanner) splitArray(off int, fn func(event, source []byte)) (int, error) {
	if off >= len(s.buf) || s.buf[off] != '[' {
		if _, err := s.skipValue(off); err != nil {
			return off, err
		}
		return off, &shapeError{ReasonRecordsNotArray, "\"Records\" is " + describeValue(s.buf[off]) + ", not an array"}
	}
	off = s.ws(off + 1)
	if off < len(s.buf) && s.buf[off] == ']' {
		return off + 1, nil
	}
	for i := 0; ; i++ {
		end, source, err := s.skipElement(off)
		if err != nil {
			if se, ok := err.(*syntaxError); ok {
				se.where = fmt.Sprintf("Records[%d]", i)
			}
			return end, err
		}
		fn(s.buf[off:end], source)
		off = s.ws(end)
		if off < len(s.buf) && s.buf[off] == ',' {
			off = s.ws(off + 1)
			continue
		}
		if off < len(s.buf) && s.buf[off] == ']' {
			return off + 1, nil
		}
		return off, s.fail(off, "expected ',' or ']' after Records[%d], found %s", i, s.found(off))
	}
}

// skipElement skips one Records element. For an object it also returns
// the value of its first top-level "eventSource" member when that is a
// string: the raw bytes between the quotes (escapes not decoded), or nil.
// "First" and "top-level" are what the filter's Value.Get sees, so the
// push-down selects exactly the events the filter selects; the scan that
// validates the element finds it, so the push-down costs no second pass.
func (s *scanner) skipElement(off int) (end int, source []byte, err error) {
	if off >= len(s.buf) || s.buf[off] != '{' {
		end, err = s.skipValue(off)
		return end, nil, err
	}
	off = s.ws(off + 1)
	if off < len(s.buf) && s.buf[off] == '}' {
		return off + 1, nil, nil
	}
	seen := false
	for {
		key, valueAt, err := s.key(off)
		if err != nil {
			return valueAt, nil, err
		}
		valueAt = s.ws(valueAt)
		end, err := s.skipValue(valueAt)
		if err != nil {
			return end, nil, err
		}
		if !seen && keyIs(key, "eventSource") {
			seen = true
			if s.buf[valueAt] == '"' {
				source = s.buf[valueAt+1 : end-1]
			}
		}
		if off = s.ws(end); off < len(s.buf) && s.buf[off] == ',' {
			off = s.ws(off + 1)
			continue
		}
		if off < len(s.buf) && s.buf[off] == '}' {
			return off + 1, source, nil
		}
		return off, nil, s.fail(off, "expected ',' or '}' after object member, found %s", s.found(off))
	}
}

// sourceMatcher is the event_sources push-down: it decides from an
// event's eventSource value (found by skipElement) whether the filter
// would select the event, so events from other services are dropped
// without being decoded.
type sourceMatcher struct {
	sources map[string]struct{} // empty: keep everything
}

func newSourceMatcher(sources []string) sourceMatcher {
	m := sourceMatcher{sources: map[string]struct{}{}}
	for _, s := range sources {
		m.sources[s] = struct{}{}
	}
	return m
}

// keep reports whether an event with this raw eventSource value (nil: no
// string eventSource) is selected.
func (m *sourceMatcher) keep(source []byte) bool {
	if len(m.sources) == 0 {
		return true
	}
	if source == nil {
		return false
	}
	if bytes.IndexByte(source, '\\') >= 0 {
		_, ok := m.sources[unescape(source)]
		return ok
	}
	_, ok := m.sources[string(source)] // no allocation for a map lookup
	return ok
}
