package record

import (
	"testing"

	"github.com/opsworks-trail/opsworks-trail/test/fuzzseeds"
)

// fuzzSeeds are the filter's testdata documents (CloudTrail JSON, as the
// codec meets it), the seed examples when present, and the shared extra
// documents.
func fuzzSeeds(f *testing.F) [][]byte {
	seeds, err := fuzzseeds.Seeds("../filter/testdata/*/*.json", "../../shared/seeds/*.txt")
	if err != nil {
		f.Fatal(err)
	}
	return seeds
}

// FuzzDecodeJSON: the decoder never panics, and what it accepts re-encodes to
// JSON that decodes to the same value.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a Arena
		v, err := DecodeJSON(data, 64, &a)
		if err != nil {
			return
		}
		text := AppendJSON(nil, &v)
		v2, err := DecodeJSON(text, 64, &a)
		if err != nil {
			t.Fatalf("re-encoded JSON does not decode: %v\n%s", err, text)
		}
		if !Equal(&v, &v2) {
			t.Fatalf("round trip changed the value:\n%s", text)
		}
		// msgpack round trip too.
		mp := AppendMsgpack(nil, &v)
		d := msgpackDecoder{buf: mp, maxDepth: 64, arena: &a}
		var v3 Value
		if err := d.decode(&v3, 0); err != nil || d.off != len(mp) {
			t.Fatalf("msgpack round trip: %v", err)
		}
		v3.Raw = nil
		if !Equal(&v, &v3) {
			t.Fatalf("msgpack round trip changed the value")
		}
	})
}

// FuzzSkipMsgpackDepth: SkipMsgpackDepth accepts exactly what DecodeMsgpack
// accepts, at every nesting limit, and ends where it ends (the filter relies
// on this to drop and carry values undecoded).
func FuzzSkipMsgpackDepth(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		var a Arena
		if v, err := DecodeJSON(s, 64, &a); err == nil {
			f.Add(AppendMsgpack(nil, &v), uint8(4))
			f.Add(AppendMsgpack(nil, &v), uint8(64))
		}
	}
	f.Add([]byte{0x91, 0x91, 0x91, 0x90}, uint8(3))
	f.Add([]byte{0x91, 0x91, 0x91, 0x90}, uint8(4))
	f.Add([]byte{0xdf, 0, 0, 0, 1, 0xa1, 'k', 0x80}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, maxDepth uint8) {
		var a Arena
		var v Value
		next, _, derr := DecodeMsgpack(data, 0, int(maxDepth), &a, &v)
		end, serr := SkipMsgpackDepth(data, 0, 0, int(maxDepth))
		if (derr == nil) != (serr == nil) {
			t.Fatalf("DecodeMsgpack: %v, SkipMsgpackDepth: %v", derr, serr)
		}
		if derr == nil && next != end {
			t.Fatalf("DecodeMsgpack ends at %d, SkipMsgpackDepth at %d", next, end)
		}
	})
}
