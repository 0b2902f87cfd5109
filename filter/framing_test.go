package filter

import (
	"encoding/binary"
	"testing"

	"github.com/opsworks-trail/opsworks-trail/record"
)

// appendWide encodes v with 32-bit headers for every array, map and string:
// valid msgpack that Fluent Bit 4.0 produces for record framing.
func appendWide(b []byte, v *record.Value) []byte {
	be32 := func(b []byte, c byte, n int) []byte { return binary.BigEndian.AppendUint32(append(b, c), uint32(n)) }
	switch v.Kind {
	case record.KindString:
		return append(be32(b, 0xdb, len(v.Str)), v.Str...)
	case record.KindArray:
		b = be32(b, 0xdd, len(v.Items))
	case record.KindMap:
		b = be32(b, 0xdf, len(v.Items)/2)
	default:
		c := *v
		c.Raw = nil
		return record.AppendMsgpack(b, &c)
	}
	for i := range v.Items {
		b = appendWide(b, &v.Items[i])
	}
	return b
}

func wideRecord(t record.EventTime, body *record.Value) []byte {
	b := binary.BigEndian.AppendUint32([]byte{0xdd}, 2)
	b = binary.BigEndian.AppendUint32(append(b, 0xdd), 2)
	b = record.AppendEventTime(b, t)
	b = append(b, 0xdf, 0, 0, 0, 0) // empty metadata map, wide
	return appendWide(b, body)
}

func TestWideHeadersLikeFluentBit40(t *testing.T) {
	docs := []string{
		readTestdata(t, "identity/assumedrole.json"),
		`{"Records":[` + readTestdata(t, "variant/request_engine.json") + `,{"eventSource":"ec2.amazonaws.com","eventName":"X"}]}`,
		`{"msg":"not cloudtrail"}`,
	}
	var compact, wide []byte
	for _, d := range docs {
		var a record.Arena
		v, err := record.DecodeJSON([]byte(d), 64, &a)
		if err != nil {
			t.Fatal(err)
		}
		compact = record.AppendRecord(compact, record.EventTime{Sec: 1000}, nil, &v)
		wide = append(wide, wideRecord(record.EventTime{Sec: 1000}, &v)...)
	}
	p := NewProcessor(mustConfig(t, nil), nil)
	_, want := run(t, p, compact)
	p = NewProcessor(mustConfig(t, nil), nil)
	res, got := run(t, p, wide)
	if len(got) != len(want) || len(want) != 3 {
		t.Fatalf("wide framing: %d records, compact %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Tag != want[i].Tag || !jsonEqual(got[i].Body, want[i].Body) {
			t.Fatalf("record %d differs:\n%+v\n%+v", i, got[i], want[i])
		}
	}
	if p.Stats.Dropped.Load() != 1 || res.KeepN != 1 {
		t.Fatalf("stats %s keep %d", p.Stats.String(), res.KeepN)
	}
}
