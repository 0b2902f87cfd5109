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
