package cloudtrail

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Cases of the gjson reading that encoding/json handled differently or
// that guard gjson itself.
func TestParseNotificationGJSON(t *testing.T) {
	ok := []struct {
		body string
		want []ObjectRef
	}{
		// The first of duplicate members is read (as the Records splitter
		// and the filter read them).
		{`{"s3Bucket": "b", "s3ObjectKey": ["k1"], "s3ObjectKey": ["k2"]}`, []ObjectRef{{"b", "k1"}}},
		// Bytes that are not UTF-8 read as U+FFFD, as encoding/json read them.
		{"{\"s3Bucket\": \"b\", \"s3ObjectKey\": [\"a\xa6b\"]}", []ObjectRef{{"b", "a\ufffdb"}}},
		// Escaped member names are matched decoded.
		{`{"Rec\u006frds": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]}`, []ObjectRef{{"b", "k"}}},
	}
	for _, tt := range ok {
		n, err := ParseNotification([]byte(tt.body))
		if err != nil || !reflect.DeepEqual(n.Objects, tt.want) {
			t.Errorf("%s: got %+v, %v; want %+v", tt.body, n, err, tt.want)
		}
	}
	bad := []struct{ body, want string }{
		// Member names are matched exactly (AWS writes them so); encoding/json
		// also matched them case-insensitively.
		{`{"records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]}`, `not a known notification (keys "records")`},
		// Type errors name the field at fault.
		{`{"Records": [{"s3": {"bucket": {"name": 5}, "object": {"key": "k"}}}]}`, "Records[0].s3.bucket.name: a number, not a string"},
		{`{"Records": [{"s3": {"bucket": {"name": "b"}, "object": []}}]}`, "Records[0].s3.object: an array, not an object"},
		{`{"Records": ["x"]}`, "Records[0]: not an S3 event record: it is a string"},
		{`{"Records": [{}, {"eventName": true}]}`, "Records[1].eventName: a boolean, not a string"},
		{`{"Records": null}`, "Records: empty"},
		{`{"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": 1}}`, "detail.bucket: a number, not an object"},
		{`{"source": 1, "detail": {}}`, "source: a number, not a string"},
		{`{"s3Bucket": "b", "s3ObjectKey": ["k", 5]}`, "s3ObjectKey: missing or not an array of strings"},
		{`{"Type": "Notification", "Message": null}`, "SNS Message: message body is not a JSON object"},
		{`null`, "message body is not a JSON object: it is null"},
		{`[{}]`, "message body is not a JSON object: it is an array"},
		// encoding/json's Decoder.More let a closing bracket after the object pass.
		{`{"hello": 1} ]`, "data after its JSON object"},
		{`{"hello": "world"`, "not a JSON object: unexpected EOF"},
	}
	for _, tt := range bad {
		n, err := ParseNotification([]byte(tt.body))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %+v, %v; want an error containing %q", tt.body, n, err, tt.want)
		}
	}
}

// TestParseNotificationNesting: nesting is bounded as encoding/json bounded
// it (10000 levels), before gjson's recursive validator sees the body.
func TestParseNotificationNesting(t *testing.T) {
	nested := func(depth int) []byte {
		return []byte(`{"x": ` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `, "s3Bucket": "b", "s3ObjectKey": ["k"]}`)
	}
	if _, err := ParseNotification(nested(maxNotificationDepth)); err != nil {
		t.Errorf("%d levels: %v", maxNotificationDepth, err)
	}
	if _, err := ParseNotification(nested(maxNotificationDepth + 1)); err == nil || !strings.Contains(err.Error(), "exceeded max depth") {
		t.Errorf("%d levels: got %v, want exceeded max depth", maxNotificationDepth+1, err)
	}
	// Brackets inside strings are not nesting.
	inString := []byte(`{"s3Bucket": "b", "s3ObjectKey": ["` + strings.Repeat("[", 3*maxNotificationDepth) + `\"["]}`)
	if n, err := ParseNotification(inString); err != nil || len(n.Objects) != 1 {
		t.Errorf("brackets in a key: %+v, %v", n, err)
	}
	start := time.Now()
	_, err := ParseNotification(bytes.Repeat([]byte("["), maxNotificationSize))
	if err == nil || !strings.Contains(err.Error(), "exceeded max depth") {
		t.Errorf("1 MiB of '[': got %v, want exceeded max depth", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("1 MiB of '[' took %v", d)
	}
}
