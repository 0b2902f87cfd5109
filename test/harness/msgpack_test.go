package harness

// A minimal msgpack encoder (from JSON text, keeping key order) and decoder
// for the tests. It is written independently of package record so the
// plugin's own codec is not used to judge its output.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
)

// ---- encoding ----

func mpStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xda, byte(n>>8), byte(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func mpMapHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xde, byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
}

func mpArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xdc, byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

func mpInt(b []byte, n int64) []byte {
	switch {
	case n >= 0 && n < 128:
		return append(b, byte(n))
	case n < 0 && n >= -32:
		return append(b, byte(n))
	case n >= 0:
		return binary.BigEndian.AppendUint64(append(b, 0xcf), uint64(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
}

// mpEventTime is Fluent Bit's EventTime: ext type 0, 8 bytes (sec, nsec).
func mpEventTime(b []byte, sec, nsec uint32) []byte {
	b = append(b, 0xd7, 0x00)
	b = binary.BigEndian.AppendUint32(b, sec)
	return binary.BigEndian.AppendUint32(b, nsec)
}

// jsonToMsgpack encodes one JSON document, keeping object key order.
func jsonToMsgpack(t testing.TB, doc string) []byte {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	out, err := encodeJSONValue(dec, nil)
	if err != nil {
		t.Fatalf("test document %q: %v", doc, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("test document %q: trailing data", doc)
	}
	return out
}

func encodeJSONValue(dec *json.Decoder, b []byte) ([]byte, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		var body []byte
		n := 0
		for dec.More() {
			if v == '{' {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				body = mpStr(body, k.(string))
			}
			if body, err = encodeJSONValue(dec, body); err != nil {
				return nil, err
			}
			n++
		}
		if _, err := dec.Token(); err != nil { // closing delimiter
			return nil, err
		}
		if v == '{' {
			b = mpMapHeader(b, n)
		} else {
			b = mpArrayHeader(b, n)
		}
		return append(b, body...), nil
	case string:
		return mpStr(b, v), nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return mpInt(b, i), nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, err
		}
		return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(f)), nil
	case bool:
		if v {
			return append(b, 0xc3), nil
		}
		return append(b, 0xc2), nil
	case nil:
		return append(b, 0xc0), nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// record formats.
const (
	formatV2     = "v2"     // [[time, metadata], body], Fluent Bit >= 2.1
	formatV2Wide = "v2wide" // the same with array32 headers, as Fluent Bit 4.0 writes them
	formatLegacy = "legacy" // [time, body]
)

// testMeta is the metadata map of v2 test records.
const testMeta = `{"src":"harness"}`

// encodeRecord encodes one Fluent Bit log event with a JSON body.
func encodeRecord(t testing.TB, format string, sec, nsec uint32, body string) []byte {
	t.Helper()
	pair := []byte{0x92}
	if format == formatV2Wide {
		pair = []byte{0xdd, 0, 0, 0, 2}
	}
	b := append([]byte(nil), pair...)
	if format == formatV2 || format == formatV2Wide {
		b = append(b, pair...)
		b = mpEventTime(b, sec, nsec)
		b = append(b, jsonToMsgpack(t, testMeta)...)
	} else {
		b = mpInt(b, int64(sec)) // legacy: integer seconds, as old inputs wrote
	}
	return append(b, jsonToMsgpack(t, body)...)
}

// ---- decoding ----

// omap is a decoded msgpack map with its key order.
type omap struct {
	Keys []string
	Vals map[string]any
}

func (m *omap) get(k string) any {
	if m == nil {
		return nil
	}
	return m.Vals[k]
}

type ext struct {
	Type int8
	Data []byte
}

type mpDecoder struct {
	b   []byte
	off int
}

var errShort = errors.New("truncated msgpack")

func (d *mpDecoder) take(n int) ([]byte, error) {
	if n < 0 || d.off+n > len(d.b) {
		return nil, errShort
	}
	s := d.b[d.off : d.off+n]
	d.off += n
	return s, nil
}

func (d *mpDecoder) uint(n int) (uint64, error) {
	s, err := d.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range s {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

func (d *mpDecoder) value() (any, error) {
	s, err := d.take(1)
	if err != nil {
		return nil, err
	}
	c := s[0]
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c >= 0x80 && c <= 0x8f:
		return d.mapN(int(c & 0x0f))
	case c >= 0x90 && c <= 0x9f:
		return d.arrayN(int(c & 0x0f))
	case c >= 0xa0 && c <= 0xbf:
		s, err := d.take(int(c & 0x1f))
		return string(s), err
	}
	sized := func(n int) (int, error) {
		v, err := d.uint(n)
		return int(v), err
	}
	switch c {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := sized(1 << (c - 0xc4))
		if err != nil {
			return nil, err
		}
		s, err := d.take(n)
		return append([]byte(nil), s...), err
	case 0xc7, 0xc8, 0xc9:
		n, err := sized(1 << (c - 0xc7))
		if err != nil {
			return nil, err
		}
		return d.ext(n)
	case 0xca:
		v, err := d.uint(4)
		return float64(math.Float32frombits(uint32(v))), err
	case 0xcb:
		v, err := d.uint(8)
		return math.Float64frombits(v), err
	case 0xcc, 0xcd, 0xce, 0xcf:
		v, err := d.uint(1 << (c - 0xcc))
		if v > math.MaxInt64 {
			return v, err
		}
		return int64(v), err
	case 0xd0, 0xd1, 0xd2, 0xd3:
		n := 1 << (c - 0xd0)
		v, err := d.uint(n)
		shift := 64 - 8*n
		return int64(v<<shift) >> shift, err
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return d.ext(1 << (c - 0xd4))
	case 0xd9, 0xda, 0xdb:
		n, err := sized(1 << (c - 0xd9))
		if err != nil {
			return nil, err
		}
		s, err := d.take(n)
		return string(s), err
	case 0xdc, 0xdd:
		n, err := sized(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.arrayN(n)
	case 0xde, 0xdf:
		n, err := sized(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapN(n)
	}
	return nil, fmt.Errorf("invalid msgpack byte 0x%02x at %d", c, d.off-1)
}

func (d *mpDecoder) ext(n int) (any, error) {
	t, err := d.take(1)
	if err != nil {
		return nil, err
	}
	s, err := d.take(n)
	return ext{Type: int8(t[0]), Data: append([]byte(nil), s...)}, err
}

func (d *mpDecoder) arrayN(n int) (any, error) {
	out := make([]any, 0, n)
	for i := 0; i < n; i++ {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (d *mpDecoder) mapN(n int) (any, error) {
	m := &omap{Vals: map[string]any{}}
	for i := 0; i < n; i++ {
		k, err := d.value()
		if err != nil {
			return nil, err
		}
		ks, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("map key %v is not a string", k)
		}
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		if _, dup := m.Vals[ks]; dup {
			return nil, fmt.Errorf("duplicate map key %q", ks)
		}
		m.Keys = append(m.Keys, ks)
		m.Vals[ks] = v
	}
	return m, nil
}

// event is one decoded Fluent Bit log event.
type event struct {
	Sec, Nsec int64
	Meta      *omap // nil: legacy [time, body]
	Body      *omap
	Raw       []byte
}

// decodeEvents splits a chunk into its events.
func decodeEvents(t testing.TB, b []byte) []event {
	t.Helper()
	var out []event
	d := &mpDecoder{b: b}
	for d.off < len(b) {
		start := d.off
		v, err := d.value()
		if err != nil {
			t.Fatalf("chunk is not msgpack at %d: %v\n%x", start, err, b)
		}
		arr, ok := v.([]any)
		if !ok || len(arr) != 2 {
			t.Fatalf("event at %d is not a 2-element array: %#v", start, v)
		}
		var ev event
		ev.Raw = b[start:d.off]
		header := arr[0]
		if h, ok := header.([]any); ok {
			if len(h) != 2 {
				t.Fatalf("event header is not [time, metadata]: %#v", h)
			}
			header = h[0]
			if ev.Meta, ok = h[1].(*omap); !ok {
				t.Fatalf("event metadata is not a map: %#v", h[1])
			}
		}
		switch tm := header.(type) {
		case ext:
			if tm.Type != 0 || len(tm.Data) != 8 {
				t.Fatalf("event time is ext %d of %d bytes, want EventTime", tm.Type, len(tm.Data))
			}
			ev.Sec = int64(binary.BigEndian.Uint32(tm.Data))
			ev.Nsec = int64(binary.BigEndian.Uint32(tm.Data[4:]))
		case int64:
			ev.Sec = tm
		default:
			t.Fatalf("event time %#v is not a timestamp", header)
		}
		if ev.Body, ok = arr[1].(*omap); !ok {
			t.Fatalf("event body is not a map: %#v", arr[1])
		}
		out = append(out, ev)
	}
	return out
}

// TestCodec checks the test codec itself against hand-encoded bytes.
func TestCodec(t *testing.T) {
	got := jsonToMsgpack(t, `{"b":1,"a":[true,null,-1,2.5,"x"],"n":300}`)
	want := []byte{0x83, 0xa1, 'b', 0x01, 0xa1, 'a', 0x95, 0xc3, 0xc0, 0xff,
		0xcb, 0x40, 0x04, 0, 0, 0, 0, 0, 0, 0xa1, 'x', 0xa1, 'n', 0xcf, 0, 0, 0, 0, 0, 0, 0x01, 0x2c}
	if string(got) != string(want) {
		t.Fatalf("encode: got %x want %x", got, want)
	}
	evs := decodeEvents(t, encodeRecord(t, formatV2, 1000, 5, `{"b":1,"a":{"x":"y"}}`))
	if len(evs) != 1 || evs[0].Sec != 1000 || evs[0].Nsec != 5 || evs[0].Meta.get("src") != "harness" {
		t.Fatalf("decode v2: %+v", evs)
	}
	if k := evs[0].Body.Keys; len(k) != 2 || k[0] != "b" || k[1] != "a" {
		t.Fatalf("key order lost: %v", k)
	}
	evs = decodeEvents(t, encodeRecord(t, formatLegacy, 1000, 0, `{"x":1}`))
	if len(evs) != 1 || evs[0].Meta != nil || evs[0].Sec != 1000 || evs[0].Body.get("x") != int64(1) {
		t.Fatalf("decode legacy: %+v", evs)
	}
}
