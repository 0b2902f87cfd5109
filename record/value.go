// Package record is the record model shared by both Fluent Bit plugins
// (the opsworks filter and the cloudtrail_s3 input) and the opsworks-trail
// CLI: Value, a decoded msgpack/JSON value with zero-copy strings, the Arena
// that backs decoding, the msgpack and JSON codecs, and the framing of Fluent
// Bit chunks ([[time, metadata], body] records). It is plain Go (no cgo);
// apart from FieldError, the error field both plugins write, it knows
// nothing of CloudTrail or OpsWorks.
package record

import (
	"bytes"
	"math"
	"unsafe"
)

// Kind is the type of a Value. It follows msgpack's type system because that is
// what Fluent Bit carries; JSON maps onto a subset of it.
type Kind uint8

const (
	KindNil Kind = iota
	KindBool
	KindInt   // signed integer, in Num as int64 bits
	KindUint  // unsigned integer, in Num
	KindFloat // float64 bits in Num
	KindString
	KindBinary
	KindArray
	KindMap
	KindExt // msgpack extension: ExtType, data in Str
)

func (k Kind) String() string {
	return [...]string{"nil", "bool", "int", "uint", "float", "string", "binary", "array", "map", "ext"}[k]
}

// Value is a decoded msgpack/JSON value. Strings point into the decoded buffer
// (zero copy); containers hold their children in Items, maps as key, value,
// key, value… Raw, when set, is the value's exact msgpack encoding, so the
// encoder can copy untouched subtrees instead of re-encoding them.
type Value struct {
	Kind    Kind
	ExtType int8
	Num     uint64
	Str     []byte
	Items   []Value
	Raw     []byte
}

// Len is the number of elements of an array or entries of a map.
func (v *Value) Len() int {
	if v.Kind == KindMap {
		return len(v.Items) / 2
	}
	return len(v.Items)
}

// Get returns the map value under key, or nil.
func (v *Value) Get(key string) *Value {
	if v == nil || v.Kind != KindMap {
		return nil
	}
	for i := 0; i+1 < len(v.Items); i += 2 {
		k := &v.Items[i]
		if k.Kind == KindString && string(k.Str) == key {
			return &v.Items[i+1]
		}
	}
	return nil
}

// Path follows map keys; nil when any step is missing or not a map.
func (v *Value) Path(keys ...string) *Value {
	for _, k := range keys {
		v = v.Get(k)
		if v == nil {
			return nil
		}
	}
	return v
}

// String returns the string content of a string value, or "".
func (v *Value) String() string {
	if v == nil || v.Kind != KindString {
		return ""
	}
	return string(v.Str)
}

// IsString reports whether v is a string equal to s (no allocation).
func (v *Value) IsString(s string) bool {
	return v != nil && v.Kind == KindString && string(v.Str) == s
}

// Float returns a numeric value as float64.
func (v *Value) Float() float64 {
	switch v.Kind {
	case KindInt:
		return float64(int64(v.Num))
	case KindUint:
		return float64(v.Num)
	case KindFloat:
		return math.Float64frombits(v.Num)
	}
	return 0
}

// Touch drops the cached encoding after a change, so that AppendMsgpack
// encodes v anew instead of copying Raw. Code that changes a decoded value
// in place (the filter's redaction) calls it on every value above the change.
func (v *Value) Touch() { v.Raw = nil }

// StringValue makes a string Value sharing s's bytes (no copy, no
// allocation). Value bytes are never modified in place anywhere: changes
// replace Str, so sharing a string's memory is safe.
func StringValue(s string) Value {
	return Value{Kind: KindString, Str: unsafe.Slice(unsafe.StringData(s), len(s))}
}

// BytesValue makes a string Value over b.
func BytesValue(b []byte) Value { return Value{Kind: KindString, Str: b} }

// Equal compares two values structurally (used by tests and dedup checks).
func Equal(a, b *Value) bool {
	if a.Kind != b.Kind || a.Num != b.Num || a.ExtType != b.ExtType || !bytes.Equal(a.Str, b.Str) || len(a.Items) != len(b.Items) {
		return false
	}
	for i := range a.Items {
		if !Equal(&a.Items[i], &b.Items[i]) {
			return false
		}
	}
	return true
}

// Arena hands out contiguous Value slices from a reusable slab so that decoding
// a chunk allocates nothing once the slab has grown to the working-set size.
type Arena struct {
	slab  []Value
	bytes []byte // unescaped JSON strings
}

// Reset empties the arena for reuse; what it handed out before must no
// longer be used. Exported for the filter, which reuses one arena per
// record.
func (a *Arena) Reset() {
	a.slab = a.slab[:0]
	a.bytes = a.bytes[:0]
}

// grow returns a capacity for a new slab that fits n more elements: doubling,
// at least floor.
func grow(cur, n, floor int) int {
	size := 2 * cur
	if size < floor {
		size = floor
	}
	if size < n {
		size = n
	}
	return size
}

func (a *Arena) alloc(n int) []Value {
	if cap(a.slab)-len(a.slab) < n {
		// Earlier slices keep the old slab alive; only the new one is reused.
		a.slab = make([]Value, 0, grow(cap(a.slab), n, 1024))
	}
	start := len(a.slab)
	a.slab = a.slab[:start+n]
	// Not zeroed: both decoders assign every element in full before use.
	return a.slab[start : start+n : start+n]
}

// appendBytes stores the concatenation of parts in the byte slab and returns it.
func (a *Arena) appendBytes(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if cap(a.bytes)-len(a.bytes) < n {
		a.bytes = make([]byte, 0, grow(cap(a.bytes), n, 4096))
	}
	start := len(a.bytes)
	for _, p := range parts {
		a.bytes = append(a.bytes, p...)
	}
	return a.bytes[start:len(a.bytes):len(a.bytes)]
}

// copyBytes stores b in the arena's byte slab and returns the stored copy.
func (a *Arena) copyBytes(b []byte) []byte { return a.appendBytes(b) }

// Concat stores x+sep+y in the arena (exported for the filter, which builds
// flattened key names).
func (a *Arena) Concat(x []byte, sep string, y []byte) []byte {
	return a.appendBytes(x, unsafe.Slice(unsafe.StringData(sep), len(sep)), y)
}
