package record

import (
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are the filter's testdata documents (CloudTrail JSON, as the
// codec meets it) plus the seed examples when present, and the same extra
// documents as the filter's fuzz targets.
func fuzzSeeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, pattern := range []string{"../filter/testdata/*/*.json", "../../shared/seeds/*.txt"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
	}
	out = append(out, []byte(`{"Records":[{"eventSource":"opsworks-cm.amazonaws.com","eventName":"X","requestParameters":{"engine":"Puppet"}}]}`),
		[]byte(`{"messageType":"DATA_MESSAGE","logEvents":[{"message":"{\"eventSource\":\"opsworks.amazonaws.com\",\"eventName\":\"A\"}"}]}`),
		[]byte(`"\ud83d\ude00\u00e9"`), []byte(`[1.5e300,-0,18446744073709551616]`),
		[]byte(`{"detail":{"eventSource":"opsworks.amazonaws.com"}}`),
		[]byte(`{"detail-type":"AWS API Call via CloudTrail","detail":{"eventSource":"opsworks.amazonaws.com","eventName":"A","userIdentity":{"type":"Root","sessionContext":{}}}}`),
		[]byte(`{"messageType":"DATA_MESSAGE","logEvents":"x"}`),
		[]byte(`{"eventType":"AwsCloudTrailInsight","insightDetails":{"eventSource":"opsworks.amazonaws.com"}}`),
		[]byte(`{"Records":[{"eventSource":"opsworks-cm.amazonaws.com","eventName":"DescribeServers","responseElements":{"servers":[{"serverName":"a","engine":"Chef"},{"serverName":"b"}],"backups":[{"engine":7}]}}]}`))
	return out
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
