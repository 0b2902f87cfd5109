package record

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// JSONDecoder is a strict RFC 8259 parser producing arena-backed Values. It
// keeps the path to the current position so errors can name the field
// ("$.Records[0].eventVersion"), which is what a user needs to find the typo.
// The zero value is ready to use. It is exported so that a caller decoding
// many documents (the filter, per pooled workspace) can keep one and reuse
// its buffers; DecodeJSON is the one-off form.
type JSONDecoder struct {
	buf      []byte
	off      int
	maxDepth int
	arena    *Arena
	path     []pathElem
	stack    []Value // children of the containers being parsed
	scratch  []byte  // unescaping buffer, reused
}

type pathElem struct {
	key   []byte
	index int // -1 for map keys
}

func (d *JSONDecoder) pathString() string {
	s := "$"
	for _, p := range d.path {
		if p.index >= 0 {
			s += "[" + strconv.Itoa(p.index) + "]"
		} else {
			s += "." + string(p.key)
		}
	}
	return s
}

func (d *JSONDecoder) fail(msg string, args ...any) error {
	return &DecodeError{Format: "JSON", Offset: d.off, Path: d.pathString(), Msg: fmt.Sprintf(msg, args...)}
}

func (d *JSONDecoder) found() string {
	if d.off >= len(d.buf) {
		return "end of input"
	}
	c := d.buf[d.off]
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("'%c'", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (d *JSONDecoder) ws() {
	for d.off < len(d.buf) {
		switch d.buf[d.off] {
		case ' ', '\t', '\n', '\r':
			d.off++
		default:
			return
		}
	}
}

// DecodeJSON parses one JSON document (surrounding whitespace allowed).
func DecodeJSON(buf []byte, maxDepth int, a *Arena) (Value, error) {
	var d JSONDecoder
	return d.Decode(buf, maxDepth, a)
}

// Decode parses one JSON document like DecodeJSON, reusing the buffers of
// earlier calls (path, container stack, unescaping scratch).
func (d *JSONDecoder) Decode(buf []byte, maxDepth int, a *Arena) (Value, error) {
	d.buf, d.off, d.maxDepth, d.arena = buf, 0, maxDepth, a
	d.path, d.stack = d.path[:0], d.stack[:0]
	d.ws()
	v, err := d.value(0)
	if err != nil {
		return Value{}, err
	}
	d.ws()
	if d.off != len(buf) {
		return Value{}, d.fail("unexpected %s after the end of the document", d.found())
	}
	return v, nil
}

// value parses the value at d.off. Values are returned, not written through
// a pointer, so they stay on the stack across the recursion.
func (d *JSONDecoder) value(depth int) (Value, error) {
	if d.off >= len(d.buf) {
		return Value{}, d.fail("expected a value, found end of input")
	}
	switch c := d.buf[d.off]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		s, err := d.str()
		return Value{Kind: KindString, Str: s}, err
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == 't':
		return d.literal("true", Value{Kind: KindBool, Num: 1})
	case c == 'f':
		return d.literal("false", Value{Kind: KindBool})
	case c == 'n':
		return d.literal("null", Value{Kind: KindNil})
	}
	return Value{}, d.fail("expected a value, found %s", d.found())
}

func (d *JSONDecoder) literal(word string, val Value) (Value, error) {
	if len(d.buf)-d.off < len(word) || string(d.buf[d.off:d.off+len(word)]) != word {
		return Value{}, d.fail("expected %q, found %s", word, d.found())
	}
	d.off += len(word)
	return val, nil
}

// popChildren moves the children collected since base into one contiguous
// arena slice: their count is unknown until the container closes.
func (d *JSONDecoder) popChildren(base int) []Value {
	out := d.arena.alloc(len(d.stack) - base)
	copy(out, d.stack[base:])
	d.stack = d.stack[:base]
	return out
}

func (d *JSONDecoder) object(depth int) (Value, error) {
	if depth >= d.maxDepth {
		return Value{}, d.fail("nesting deeper than %d levels", d.maxDepth)
	}
	d.off++ // '{'
	base := len(d.stack)
	d.ws()
	if d.off < len(d.buf) && d.buf[d.off] == '}' {
		d.off++
		return Value{Kind: KindMap}, nil
	}
	d.path = append(d.path, pathElem{index: -1})
	for {
		d.ws()
		if d.off >= len(d.buf) || d.buf[d.off] != '"' {
			if d.off < len(d.buf) && d.buf[d.off] == '}' {
				return Value{}, d.fail("trailing comma before '}'")
			}
			return Value{}, d.fail("expected a string object key, found %s", d.found())
		}
		key, err := d.str()
		if err != nil {
			return Value{}, err
		}
		d.path[len(d.path)-1].key = key
		d.ws()
		if d.off >= len(d.buf) || d.buf[d.off] != ':' {
			return Value{}, d.fail("expected ':' after object key, found %s", d.found())
		}
		d.off++
		d.ws()
		val, err := d.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		d.stack = append(d.stack, Value{Kind: KindString, Str: key}, val)
		d.ws()
		if d.off >= len(d.buf) {
			return Value{}, d.fail("expected ',' or '}' after object value, found end of input")
		}
		if d.buf[d.off] == ',' {
			d.off++
			continue
		}
		if d.buf[d.off] == '}' {
			d.off++
			break
		}
		return Value{}, d.fail("expected ',' or '}' after object value, found %s", d.found())
	}
	d.path = d.path[:len(d.path)-1]
	return Value{Kind: KindMap, Items: d.popChildren(base)}, nil
}

func (d *JSONDecoder) array(depth int) (Value, error) {
	if depth >= d.maxDepth {
		return Value{}, d.fail("nesting deeper than %d levels", d.maxDepth)
	}
	d.off++ // '['
	base := len(d.stack)
	d.ws()
	if d.off < len(d.buf) && d.buf[d.off] == ']' {
		d.off++
		return Value{Kind: KindArray}, nil
	}
	d.path = append(d.path, pathElem{index: 0})
	for i := 0; ; i++ {
		d.path[len(d.path)-1].index = i
		d.ws()
		if d.off < len(d.buf) && d.buf[d.off] == ']' && i > 0 {
			return Value{}, d.fail("trailing comma before ']'")
		}
		val, err := d.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		d.stack = append(d.stack, val)
		d.ws()
		if d.off >= len(d.buf) {
			return Value{}, d.fail("expected ',' or ']' after array element, found end of input")
		}
		if d.buf[d.off] == ',' {
			d.off++
			continue
		}
		if d.buf[d.off] == ']' {
			d.off++
			break
		}
		return Value{}, d.fail("expected ',' or ']' after array element, found %s", d.found())
	}
	d.path = d.path[:len(d.path)-1]
	return Value{Kind: KindArray, Items: d.popChildren(base)}, nil
}

// str parses a string starting at the opening quote. Strings without escapes
// are returned as sub-slices of the input; others are unescaped into the arena.
func (d *JSONDecoder) str() ([]byte, error) {
	d.off++ // opening quote
	start := d.off
	ascii := true
	for d.off < len(d.buf) {
		c := d.buf[d.off]
		switch {
		case c == '"':
			s := d.buf[start:d.off:d.off]
			d.off++
			if !ascii && !utf8.Valid(s) {
				d.off = start
				return nil, d.fail("string is not valid UTF-8")
			}
			return s, nil
		case c == '\\':
			return d.strEscaped(start)
		case c < 0x20:
			return nil, d.fail("control character 0x%02x in string (must be escaped)", c)
		case c >= 0x80:
			ascii = false
		}
		d.off++
	}
	return nil, d.fail("unterminated string")
}

func (d *JSONDecoder) strEscaped(start int) ([]byte, error) {
	out := append(d.scratch[:0], d.buf[start:d.off]...)
	defer func() { d.scratch = out[:0] }()
	for d.off < len(d.buf) {
		c := d.buf[d.off]
		switch {
		case c == '"':
			d.off++
			if !utf8.Valid(out) {
				return nil, d.fail("string is not valid UTF-8")
			}
			return d.arena.copyBytes(out), nil
		case c < 0x20:
			return nil, d.fail("control character 0x%02x in string (must be escaped)", c)
		case c != '\\':
			out = append(out, c)
			d.off++
			continue
		}
		if d.off+1 >= len(d.buf) {
			return nil, d.fail("unterminated escape")
		}
		e := d.buf[d.off+1]
		d.off += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, err := d.hex4()
			if err != nil {
				return nil, err
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if d.off+1 < len(d.buf) && d.buf[d.off] == '\\' && d.buf[d.off+1] == 'u' {
					d.off += 2
					if r2, err = d.hex4(); err != nil {
						return nil, err
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			out = utf8.AppendRune(out, r)
		default:
			d.off -= 2
			return nil, d.fail("invalid escape '\\%c'", e)
		}
	}
	return nil, d.fail("unterminated string")
}

func (d *JSONDecoder) hex4() (rune, error) {
	if len(d.buf)-d.off < 4 {
		return 0, d.fail("truncated \\u escape")
	}
	var r rune
	for _, c := range d.buf[d.off : d.off+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, d.fail("invalid \\u escape")
		}
	}
	d.off += 4
	return r, nil
}

func (d *JSONDecoder) number() (Value, error) {
	start := d.off
	if d.buf[d.off] == '-' {
		d.off++
	}
	digits := func() int {
		n := 0
		for d.off < len(d.buf) && d.buf[d.off] >= '0' && d.buf[d.off] <= '9' {
			d.off++
			n++
		}
		return n
	}
	intStart := d.off
	if digits() == 0 {
		return Value{}, d.fail("invalid number")
	}
	if d.buf[intStart] == '0' && d.off-intStart > 1 {
		d.off = intStart
		return Value{}, d.fail("number with leading zero")
	}
	isFloat := false
	if d.off < len(d.buf) && d.buf[d.off] == '.' {
		d.off++
		isFloat = true
		if digits() == 0 {
			return Value{}, d.fail("invalid number: digits expected after '.'")
		}
	}
	if d.off < len(d.buf) && (d.buf[d.off] == 'e' || d.buf[d.off] == 'E') {
		d.off++
		isFloat = true
		if d.off < len(d.buf) && (d.buf[d.off] == '+' || d.buf[d.off] == '-') {
			d.off++
		}
		if digits() == 0 {
			return Value{}, d.fail("invalid number: digits expected in exponent")
		}
	}
	text := d.buf[start:d.off]
	s := unsafe.String(unsafe.SliceData(text), len(text))
	if !isFloat {
		if text[0] == '-' {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				if n == 0 { // "-0": one kind per value keeps encodings stable
					return Value{Kind: KindUint}, nil
				}
				return Value{Kind: KindInt, Num: uint64(n)}, nil
			}
		} else if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			return Value{Kind: KindUint, Num: n}, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		d.off = start
		return Value{}, d.fail("number %s is out of range", s)
	}
	return Value{Kind: KindFloat, Num: math.Float64bits(f)}, nil
}

// ---- encoding ----

const hexDigits = "0123456789abcdef"

// AppendJSON appends v as JSON. Binary values become base64 strings, Fluent Bit
// EventTime extensions become float seconds, other extensions null.
func AppendJSON(b []byte, v *Value) []byte {
	switch v.Kind {
	case KindNil:
		return append(b, "null"...)
	case KindBool:
		if v.Num != 0 {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case KindInt:
		return strconv.AppendInt(b, int64(v.Num), 10)
	case KindUint:
		return strconv.AppendUint(b, v.Num, 10)
	case KindFloat:
		f := math.Float64frombits(v.Num)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return append(b, "null"...)
		}
		start := len(b)
		b = strconv.AppendFloat(b, f, 'g', -1, 64)
		for _, c := range b[start:] {
			if c == '.' || c == 'e' {
				return b
			}
		}
		return append(b, ".0"...) // stays a float when read back
	case KindString:
		return appendJSONString(b, v.Str)
	case KindBinary:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v.Str)
		return append(b, '"')
	case KindExt:
		if t, ok := timeOf(v); ok {
			return strconv.AppendFloat(b, float64(t.Sec)+float64(t.Nsec)/1e9, 'f', -1, 64)
		}
		return append(b, "null"...)
	case KindArray:
		b = append(b, '[')
		for i := range v.Items {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSON(b, &v.Items[i])
		}
		return append(b, ']')
	case KindMap:
		b = append(b, '{')
		for i := 0; i+1 < len(v.Items); i += 2 {
			if i > 0 {
				b = append(b, ',')
			}
			k := &v.Items[i]
			if k.Kind == KindString {
				b = appendJSONString(b, k.Str)
			} else {
				// JSON keys must be strings: encode other key types as their JSON text.
				b = appendJSONString(b, AppendJSON(nil, k))
			}
			b = append(b, ':')
			b = AppendJSON(b, &v.Items[i+1])
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}

// appendJSONString quotes s; invalid UTF-8 bytes become U+FFFD so the output
// is always valid JSON.
func appendJSONString(b []byte, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
