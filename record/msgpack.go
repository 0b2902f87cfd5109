package record

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
)

// DecodeError says what was wrong with an input and where.
type DecodeError struct {
	Format string // "msgpack" or "JSON"
	Offset int
	Path   string // JSON-path-like location, when known
	Msg    string
}

func (e *DecodeError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("invalid %s at %s (byte %d): %s", e.Format, e.Path, e.Offset, e.Msg)
	}
	return fmt.Sprintf("invalid %s at byte %d: %s", e.Format, e.Offset, e.Msg)
}

// msgpackDecoder decodes one value at a time from buf into arena-backed Values.
type msgpackDecoder struct {
	buf      []byte
	off      int
	maxDepth int
	arena    *Arena
	badUTF8  int // strings that are not valid UTF-8, counted while decoding
}

func (d *msgpackDecoder) fail(msg string, args ...any) error {
	return &DecodeError{Format: "msgpack", Offset: d.off, Msg: fmt.Sprintf(msg, args...)}
}

func (d *msgpackDecoder) need(n int) error {
	if n < 0 || len(d.buf)-d.off < n {
		return d.fail("truncated: need %d bytes, have %d", n, len(d.buf)-d.off)
	}
	return nil
}

func (d *msgpackDecoder) u8() uint8 { b := d.buf[d.off]; d.off++; return b }
func (d *msgpackDecoder) u16() uint16 {
	v := binary.BigEndian.Uint16(d.buf[d.off:])
	d.off += 2
	return v
}
func (d *msgpackDecoder) u32() uint32 {
	v := binary.BigEndian.Uint32(d.buf[d.off:])
	d.off += 4
	return v
}
func (d *msgpackDecoder) u64() uint64 {
	v := binary.BigEndian.Uint64(d.buf[d.off:])
	d.off += 8
	return v
}

// lenPrefix reads a big-endian length of width 1, 2 or 4 bytes.
func (d *msgpackDecoder) lenPrefix(width int) (int, error) {
	if err := d.need(width); err != nil {
		return 0, err
	}
	switch width {
	case 1:
		return int(d.u8()), nil
	case 2:
		return int(d.u16()), nil
	default:
		n := d.u32()
		if uint64(n) > uint64(len(d.buf)) {
			return 0, d.fail("length %d exceeds buffer", n)
		}
		return int(n), nil
	}
}

func (d *msgpackDecoder) bytesOf(n int) ([]byte, error) {
	if err := d.need(n); err != nil {
		return nil, err
	}
	b := d.buf[d.off : d.off+n : d.off+n]
	d.off += n
	return b, nil
}

// DecodeMsgpack decodes the value starting at buf[off] into v, its children
// in a, and returns the offset just past it and how many of its strings are
// not valid UTF-8 (the decoder does not reject them; the caller decides).
// Containers nested deeper than maxDepth are an error. It is the decoder's
// entry point for the filter's hot path, which decodes each record body in
// place in its chunk.
func DecodeMsgpack(buf []byte, off, maxDepth int, a *Arena, v *Value) (next, badUTF8 int, err error) {
	d := msgpackDecoder{buf: buf, off: off, maxDepth: maxDepth, arena: a}
	err = d.decode(v, 0)
	return d.off, d.badUTF8, err
}

// decode decodes the value at d.off into v.
func (d *msgpackDecoder) decode(v *Value, depth int) error {
	start := d.off
	if err := d.need(1); err != nil {
		return err
	}
	c := d.u8()
	var err error
	switch {
	case c <= 0x7f:
		*v = Value{Kind: KindUint, Num: uint64(c)}
	case c >= 0xe0:
		*v = Value{Kind: KindInt, Num: uint64(int64(int8(c)))}
	case c >= 0xa0 && c <= 0xbf:
		err = d.str(v, int(c&0x1f), KindString)
	case c >= 0x90 && c <= 0x9f:
		err = d.container(v, KindArray, int(c&0x0f), depth)
	case c >= 0x80 && c <= 0x8f:
		err = d.container(v, KindMap, int(c&0x0f), depth)
	default:
		err = d.decodeTyped(v, c, depth)
	}
	if err != nil {
		return err
	}
	v.Raw = d.buf[start:d.off:d.off]
	return nil
}

func (d *msgpackDecoder) decodeTyped(v *Value, c byte, depth int) error {
	switch c {
	case 0xc0:
		*v = Value{Kind: KindNil}
	case 0xc2, 0xc3:
		*v = Value{Kind: KindBool, Num: uint64(c & 1)}
	case 0xc4, 0xc5, 0xc6:
		n, err := d.lenPrefix(1 << (c - 0xc4))
		if err != nil {
			return err
		}
		return d.str(v, n, KindBinary)
	case 0xd9, 0xda, 0xdb:
		n, err := d.lenPrefix(1 << (c - 0xd9))
		if err != nil {
			return err
		}
		return d.str(v, n, KindString)
	case 0xdc, 0xdd:
		n, err := d.lenPrefix(2 << (c - 0xdc))
		if err != nil {
			return err
		}
		return d.container(v, KindArray, n, depth)
	case 0xde, 0xdf:
		n, err := d.lenPrefix(2 << (c - 0xde))
		if err != nil {
			return err
		}
		return d.container(v, KindMap, n, depth)
	case 0xca:
		if err := d.need(4); err != nil {
			return err
		}
		*v = Value{Kind: KindFloat, Num: math.Float64bits(float64(math.Float32frombits(d.u32())))}
	case 0xcb:
		if err := d.need(8); err != nil {
			return err
		}
		*v = Value{Kind: KindFloat, Num: d.u64()}
	case 0xcc, 0xcd, 0xce, 0xcf:
		width := 1 << (c - 0xcc)
		if err := d.need(width); err != nil {
			return err
		}
		*v = Value{Kind: KindUint, Num: d.uintN(width)}
	case 0xd0, 0xd1, 0xd2, 0xd3:
		width := 1 << (c - 0xd0)
		if err := d.need(width); err != nil {
			return err
		}
		*v = Value{Kind: KindInt, Num: uint64(d.intN(width))}
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return d.ext(v, 1<<(c-0xd4))
	case 0xc7, 0xc8, 0xc9:
		n, err := d.lenPrefix(1 << (c - 0xc7))
		if err != nil {
			return err
		}
		return d.ext(v, n)
	default:
		d.off--
		return d.fail("unknown type byte 0x%02x", c)
	}
	return nil
}

func (d *msgpackDecoder) uintN(width int) uint64 {
	switch width {
	case 1:
		return uint64(d.u8())
	case 2:
		return uint64(d.u16())
	case 4:
		return uint64(d.u32())
	}
	return d.u64()
}

func (d *msgpackDecoder) intN(width int) int64 {
	switch width {
	case 1:
		return int64(int8(d.u8()))
	case 2:
		return int64(int16(d.u16()))
	case 4:
		return int64(int32(d.u32()))
	}
	return int64(d.u64())
}

func (d *msgpackDecoder) str(v *Value, n int, kind Kind) error {
	b, err := d.bytesOf(n)
	if err != nil {
		return err
	}
	if kind == KindString && !validUTF8(b) {
		d.badUTF8++
	}
	*v = Value{Kind: kind, Str: b}
	return nil
}

// validUTF8 is utf8.Valid with the common case, short ASCII strings such
// as keys, checked inline: the call alone cost more than the check.
func validUTF8(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return utf8.Valid(b)
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return utf8.Valid(b)
		}
	}
	return true
}

func (d *msgpackDecoder) ext(v *Value, n int) error {
	if err := d.need(1 + n); err != nil {
		return err
	}
	t := int8(d.u8())
	b, _ := d.bytesOf(n)
	*v = Value{Kind: KindExt, ExtType: t, Str: b}
	return nil
}

func (d *msgpackDecoder) container(v *Value, kind Kind, n int, depth int) error {
	if depth >= d.maxDepth {
		return d.fail("nesting deeper than %d levels", d.maxDepth)
	}
	count := n
	if kind == KindMap {
		count = 2 * n
	}
	// Every element takes at least one byte: reject lengths the buffer cannot hold
	// before allocating for them.
	if count > len(d.buf)-d.off {
		return d.fail("%s of %d elements exceeds the remaining %d bytes", kind, n, len(d.buf)-d.off)
	}
	items := d.arena.alloc(count)
	for i := range items {
		if err := d.decode(&items[i], depth+1); err != nil {
			return err
		}
	}
	*v = Value{Kind: kind, Items: items}
	return nil
}

// SkipMsgpack returns the offset just past the value starting at off, without
// decoding it. It is the cheap path for records the filter does not touch
// (exported for the filter's hot path).
func SkipMsgpack(buf []byte, off int) (int, error) {
	end, _, err := skipCounting(buf, off)
	return end, err
}

// skipTyped decodes the header of a non-fix msgpack type: bytes of payload to
// skip, number of child values, and the offset after the header.
func skipTyped(buf []byte, off int, c byte) (skip, children, next int, ok bool) {
	be := func(width int) (int, bool) {
		if len(buf)-off < width {
			return 0, false
		}
		var n uint64
		for i := 0; i < width; i++ {
			n = n<<8 | uint64(buf[off+i])
		}
		off += width
		if n > uint64(len(buf)) {
			return 0, false
		}
		return int(n), true
	}
	var n int
	switch c {
	case 0xc4, 0xc5, 0xc6:
		n, ok = be(1 << (c - 0xc4))
		return n, 0, off, ok
	case 0xd9, 0xda, 0xdb:
		n, ok = be(1 << (c - 0xd9))
		return n, 0, off, ok
	case 0xc7, 0xc8, 0xc9:
		n, ok = be(1 << (c - 0xc7))
		return n + 1, 0, off, ok
	case 0xca:
		return 4, 0, off, true
	case 0xcb:
		return 8, 0, off, true
	case 0xcc, 0xcd, 0xce, 0xcf:
		return 1 << (c - 0xcc), 0, off, true
	case 0xd0, 0xd1, 0xd2, 0xd3:
		return 1 << (c - 0xd0), 0, off, true
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return 1 + 1<<(c-0xd4), 0, off, true
	case 0xdc, 0xdd:
		n, ok = be(2 << (c - 0xdc))
		return 0, n, off, ok
	case 0xde, 0xdf:
		n, ok = be(2 << (c - 0xde))
		return 0, 2 * n, off, ok
	}
	return 0, 0, off, false
}

// ---- encoding ----

// AppendMapHeader appends the header of a map of n entries; the caller
// appends the keys and values. Exported, like AppendString, for the filter,
// which adds a field to an encoded body without decoding it.
func AppendMapHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xde, byte(n>>8), byte(n))
	}
	return append(b, 0xdf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func appendArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xdc, byte(n>>8), byte(n))
	}
	return append(b, 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func appendStrHeader(b []byte, n int) []byte {
	switch {
	case n < 32:
		return append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		return append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xda, byte(n>>8), byte(n))
	}
	return append(b, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func appendStr(b []byte, s []byte) []byte { return append(appendStrHeader(b, len(s)), s...) }

// AppendString appends s as a msgpack string.
func AppendString(b []byte, s string) []byte { return append(appendStrHeader(b, len(s)), s...) }

func appendUint(b []byte, n uint64) []byte {
	switch {
	case n <= 0x7f:
		return append(b, byte(n))
	case n <= math.MaxUint8:
		return append(b, 0xcc, byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xcd, byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		return append(b, 0xce, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), n)
}

func appendInt(b []byte, n int64) []byte {
	if n >= 0 {
		return appendUint(b, uint64(n))
	}
	switch {
	case n >= -32:
		return append(b, byte(n))
	case n >= math.MinInt8:
		return append(b, 0xd0, byte(n))
	case n >= math.MinInt16:
		return append(b, 0xd1, byte(n>>8), byte(n))
	case n >= math.MinInt32:
		return append(b, 0xd2, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
}

// AppendMsgpack appends the msgpack encoding of v, reusing Raw where the value
// was not changed since it was decoded.
func AppendMsgpack(b []byte, v *Value) []byte {
	if v.Raw != nil {
		return append(b, v.Raw...)
	}
	switch v.Kind {
	case KindNil:
		return append(b, 0xc0)
	case KindBool:
		return append(b, 0xc2|byte(v.Num&1))
	case KindInt:
		return appendInt(b, int64(v.Num))
	case KindUint:
		return appendUint(b, v.Num)
	case KindFloat:
		return binary.BigEndian.AppendUint64(append(b, 0xcb), v.Num)
	case KindString:
		return appendStr(b, v.Str)
	case KindBinary:
		n := len(v.Str)
		switch {
		case n <= math.MaxUint8:
			b = append(b, 0xc4, byte(n))
		case n <= math.MaxUint16:
			b = append(b, 0xc5, byte(n>>8), byte(n))
		default:
			b = append(b, 0xc6, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		}
		return append(b, v.Str...)
	case KindArray:
		b = appendArrayHeader(b, len(v.Items))
	case KindMap:
		b = AppendMapHeader(b, len(v.Items)/2)
	case KindExt:
		return appendExt(b, v.ExtType, v.Str)
	}
	for i := range v.Items {
		b = AppendMsgpack(b, &v.Items[i])
	}
	return b
}

func appendExt(b []byte, t int8, data []byte) []byte {
	n := len(data)
	switch n {
	case 1, 2, 4, 8, 16:
		code := byte(0xd4)
		for size := 1; size < n; size <<= 1 {
			code++
		}
		b = append(b, code, byte(t))
	default:
		switch {
		case n <= math.MaxUint8:
			b = append(b, 0xc7, byte(n), byte(t))
		case n <= math.MaxUint16:
			b = append(b, 0xc8, byte(n>>8), byte(n), byte(t))
		default:
			b = append(b, 0xc9, byte(n>>24), byte(n>>16), byte(n>>8), byte(n), byte(t))
		}
	}
	return append(b, data...)
}

// EventTime is a Fluent Bit record timestamp.
type EventTime struct {
	Sec  int64
	Nsec int64
}

// AppendEventTime encodes t as Fluent Bit's EventTime extension (type 0).
// Exported for code that frames records itself (the filter's tests write
// the wide headers of Fluent Bit 4.0).
func AppendEventTime(b []byte, t EventTime) []byte {
	return append(b, 0xd7, 0x00,
		byte(t.Sec>>24), byte(t.Sec>>16), byte(t.Sec>>8), byte(t.Sec),
		byte(t.Nsec>>24), byte(t.Nsec>>16), byte(t.Nsec>>8), byte(t.Nsec))
}

// timeOf reads a Fluent Bit timestamp: EventTime ext, integer or float seconds.
func timeOf(v *Value) (EventTime, bool) {
	switch v.Kind {
	case KindExt:
		if v.ExtType == 0 && len(v.Str) == 8 {
			return EventTime{Sec: int64(binary.BigEndian.Uint32(v.Str)), Nsec: int64(binary.BigEndian.Uint32(v.Str[4:]))}, true
		}
	case KindUint, KindInt:
		return EventTime{Sec: int64(v.Num)}, true
	case KindFloat:
		f := math.Float64frombits(v.Num)
		sec := math.Floor(f)
		return EventTime{Sec: int64(sec), Nsec: int64((f - sec) * 1e9)}, true
	}
	return EventTime{}, false
}

// SkipMsgpackDepth is SkipMsgpack that also rejects what DecodeMsgpack
// rejects for nesting: depth is the nesting level of the value at off (0 for
// a record body), and a container at level maxDepth or deeper is an error.
// The filter uses it to drop values undecoded while still treating a
// too-deep record as DecodeMsgpack would; its errors only say that the value
// is not acceptable (the caller decodes to report why).
func SkipMsgpackDepth(buf []byte, off, depth, maxDepth int) (int, error) {
	if off < len(buf) {
		if c := buf[off]; !(c >= 0x80 && c <= 0x9f || c >= 0xdc && c <= 0xdf) {
			// A scalar, most top-level values of an event: nothing nested to
			// track (skipNested's stack costs more than the value).
			return SkipMsgpack(buf, off)
		}
	}
	// Nesting can only exceed the limit if the value holds at least as many
	// containers as the levels left: count them in a plain skip, and track
	// the levels exactly (skipNested) only when that bound is reached.
	end, containers, err := skipCounting(buf, off)
	if err != nil {
		return 0, err
	}
	if depth+containers <= maxDepth {
		return end, nil
	}
	return skipNested(buf, off, depth, maxDepth)
}

// skipCounting is SkipMsgpack that also counts the containers it passes.
func skipCounting(buf []byte, off int) (end, containers int, err error) {
	pending := 1
	for pending > 0 {
		if off >= len(buf) {
			return 0, 0, &DecodeError{Format: "msgpack", Offset: off, Msg: "truncated value"}
		}
		pending--
		c := buf[off]
		off++
		var skip, children int
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c >= 0xa0 && c <= 0xbf:
			skip = int(c & 0x1f)
		case c >= 0x90 && c <= 0x9f:
			children = int(c & 0x0f)
			containers++
		case c >= 0x80 && c <= 0x8f:
			children = 2 * int(c&0x0f)
			containers++
		default:
			var ok bool
			skip, children, off, ok = skipTyped(buf, off, c)
			if !ok {
				return 0, 0, &DecodeError{Format: "msgpack", Offset: off - 1, Msg: fmt.Sprintf("bad or truncated value (type 0x%02x)", c)}
			}
			if c >= 0xdc && c <= 0xdf {
				containers++
			}
		}
		if skip < 0 || skip > len(buf)-off {
			return 0, 0, &DecodeError{Format: "msgpack", Offset: off, Msg: "truncated value"}
		}
		off += skip
		pending += children
		if pending > len(buf)-off+1 {
			return 0, 0, &DecodeError{Format: "msgpack", Offset: off, Msg: "container larger than buffer"}
		}
	}
	return off, containers, nil
}

// skipNested is SkipMsgpackDepth for containers, tracking every level.
func skipNested(buf []byte, off, depth, maxDepth int) (int, error) {
	var stackBuf [32]int
	stack := stackBuf[:0] // the pending children of each enclosing container
	pending := 1
	for {
		for pending == 0 {
			if len(stack) == 0 {
				return off, nil
			}
			pending = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		}
		if off >= len(buf) {
			return 0, &DecodeError{Format: "msgpack", Offset: off, Msg: "truncated value"}
		}
		pending--
		c := buf[off]
		off++
		var skip, children int
		container := false
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c >= 0xa0 && c <= 0xbf:
			skip = int(c & 0x1f)
		case c >= 0x90 && c <= 0x9f:
			children, container = int(c&0x0f), true
		case c >= 0x80 && c <= 0x8f:
			children, container = 2*int(c&0x0f), true
		default:
			var ok bool
			skip, children, off, ok = skipTyped(buf, off, c)
			if !ok {
				return 0, &DecodeError{Format: "msgpack", Offset: off - 1, Msg: fmt.Sprintf("bad or truncated value (type 0x%02x)", c)}
			}
			container = c >= 0xdc && c <= 0xdf
		}
		if skip < 0 || skip > len(buf)-off {
			return 0, &DecodeError{Format: "msgpack", Offset: off, Msg: "truncated value"}
		}
		off += skip
		if !container {
			continue
		}
		if depth+len(stack) >= maxDepth {
			return 0, &DecodeError{Format: "msgpack", Offset: off, Msg: fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
		}
		if children > len(buf)-off {
			return 0, &DecodeError{Format: "msgpack", Offset: off, Msg: "container larger than buffer"}
		}
		if children > 0 {
			stack = append(stack, pending)
			pending = children
		}
	}
}
