package cloudtrail

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const notifiedKey = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/05/111122223333_CloudTrail_us-east-1_20240305T1200Z_abcdEFGH12345678.json.gz"

func TestParseNotificationShapes(t *testing.T) {
	const bucket = "org-trail-archive"
	second := ObjectRef{Bucket: bucket, Key: "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/03/05/111122223333_CloudTrail_eu-west-1_20240305T1205Z_ijklMNOP12345678.json.gz"}
	tests := []struct {
		file    string
		shape   string
		objects []ObjectRef
		ignored int
	}{
		// S3 URL-encodes keys in form style: "audit+logs" is "audit logs".
		{"s3-event.json", ShapeS3Event, []ObjectRef{{bucket, "audit logs/" + notifiedKey}}, 0},
		{"sns-s3-event.json", ShapeSNSS3Event, []ObjectRef{{bucket, "audit logs/" + notifiedKey}}, 0},
		{"cloudtrail-sns-raw.json", ShapeCloudTrailSNS, []ObjectRef{{bucket, notifiedKey}, second}, 0},
		{"sns-cloudtrail.json", ShapeSNSCloudTrail, []ObjectRef{{bucket, notifiedKey}, second}, 0},
		{"eventbridge-object-created.json", ShapeEventBridge, []ObjectRef{{bucket, notifiedKey}}, 0},
		{"s3-test-event.json", ShapeS3TestEvent, nil, 0},
		{"sns-s3-test-event.json", ShapeSNSTestEvent, nil, 0},
		{"eventbridge-object-deleted.json", ShapeOther, nil, 1},
		{"s3-event-removed.json", ShapeOther, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			n, err := ParseNotification(readNotification(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if n.Shape != tt.shape || n.Ignored != tt.ignored || !reflect.DeepEqual(n.Objects, tt.objects) {
				t.Fatalf("got shape %q, ignored %d, objects %+v; want %q, %d, %+v", n.Shape, n.Ignored, n.Objects, tt.shape, tt.ignored, tt.objects)
			}
		})
	}
}

func TestParseNotificationRejects(t *testing.T) {
	tests := []struct{ file, want string }{
		{"bad-not-json.txt", "not a JSON object"},
		{"bad-unknown.json", `not a known notification (keys "hello")`},
		{"bad-s3-event-no-key.json", "Records[0].s3.object.key: missing"},
		{"bad-cloudtrail-log.json", "Records[0].s3: missing"},
		{"bad-sns-garbage.json", "SNS Message: message body is not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			n, err := ParseNotification(readNotification(t, tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %+v, %v; want an error containing %q", n, err, tt.want)
			}
		})
	}
}

func TestParseNotificationFields(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"Records": {}}`, "Records: not an array"},
		{`{"Records": []}`, "Records: empty"},
		{`{"Records": [{"s3": {"object": {"key": "k"}}}]}`, "Records[0].s3.bucket.name: missing"},
		{`{"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "bad%zz"}}}]}`, `Records[0].s3.object.key: "bad%zz" is not URL-encoded`},
		{`{"s3Bucket": "b"}`, "s3ObjectKey: missing or not an array of strings"},
		{`{"s3Bucket": "b", "s3ObjectKey": []}`, "s3ObjectKey: empty"},
		{`{"s3Bucket": "b", "s3ObjectKey": ["k", ""]}`, "s3ObjectKey[1]: empty"},
		{`{"s3ObjectKey": ["k"]}`, "s3Bucket: missing"},
		{`{"Service": "Amazon S3", "Event": "s3:Other"}`, "is not s3:TestEvent"},
		{`{"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}}`, `source: "aws.ec2" is not aws.s3`},
		{`{"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": "b"}}}`, "detail.object.key: missing"},
		{`{"source": "aws.s3", "detail-type": "Object Created"}`, "detail: missing"},
		{`{"Type": "SubscriptionConfirmation", "Message": "x"}`, "is not an SNS Notification"},
		{`{"Type": "Notification", "Message": 3}`, "Message: not a string"},
		{`{"Type": "Notification", "Message": "{\"Type\": \"Notification\", \"Message\": \"{}\"}"}`, "SNS envelope inside an SNS envelope"},
		{`{"a": 1} {"b": 2}`, "data after its JSON object"},
		{`[1, 2]`, "not a JSON object"},
		{"", "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			n, err := ParseNotification([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%s: got %+v, %v; want an error containing %q", tt.body, n, err, tt.want)
			}
		})
	}
}

func TestParseNotificationDecodesKeys(t *testing.T) {
	body := `{"Records": [{"eventName": "ObjectCreated:CompleteMultipartUpload", "s3": {"bucket": {"name": "b"}, "object": {"key": "a%2Bb/c%3Dd+e%25f"}}}]}`
	n, err := ParseNotification([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if want := (ObjectRef{"b", "a+b/c=d e%f"}); len(n.Objects) != 1 || n.Objects[0] != want {
		t.Fatalf("got %+v, want %+v", n.Objects, want)
	}
}

func readNotification(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "notifications", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzParseNotification(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "notifications", "*"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := ParseNotification(body)
		if err == nil {
			if n == nil || n.Shape == "" {
				t.Fatalf("no error and no shape for %q", body)
			}
			for _, o := range n.Objects {
				if o.Bucket == "" || o.Key == "" {
					t.Fatalf("empty bucket or key in %+v from %q", o, body)
				}
			}
		}
	})
}
