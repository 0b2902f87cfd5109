package cloudtrail

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Notification shapes, as Notification.Shape names them in logs and stats.
const (
	ShapeS3Event       = "s3 event notification"       // Records[].s3.bucket.name / object.key
	ShapeSNSS3Event    = "sns: s3 event notification"  // the same inside an SNS envelope
	ShapeCloudTrailSNS = "cloudtrail sns notification" // {"s3Bucket": ..., "s3ObjectKey": [...]}
	ShapeSNSCloudTrail = "sns: cloudtrail notification"
	ShapeEventBridge   = "eventbridge"  // detail.bucket.name / detail.object.key
	ShapeS3TestEvent   = "s3:TestEvent" // sent by S3 when a notification is configured
	ShapeSNSTestEvent  = "sns: s3:TestEvent"
	ShapeOther         = "not an object announcement" // a known shape that announces no new object
)

// ObjectRef is one S3 object a notification announces.
type ObjectRef struct {
	Bucket string
	Key    string // decoded: ready for GetObject
}

// Notification is what one SQS message announces.
type Notification struct {
	Shape   string
	Objects []ObjectRef // empty for test events and ShapeOther
	// Ignored counts announcements of the message that are not object
	// creations (ObjectRemoved records, EventBridge "Object Deleted"…).
	Ignored int
}

// maxNotificationSize bounds what is parsed: SQS messages are at most
// 256 KiB (1 MiB since 2025), so anything larger is not a notification.
const maxNotificationSize = 1 << 20

// ParseNotification recognises every way a CloudTrail log file's
// announcement reaches SQS:
//
//   - an S3 event notification: {"Records": [{"eventName":
//     "ObjectCreated:Put", "s3": {"bucket": {"name"}, "object": {"key"}}}]},
//     whose keys are URL-encoded (form encoding: a space is "+");
//   - CloudTrail's own SNS delivery notification: {"s3Bucket": "...",
//     "s3ObjectKey": ["...", ...]} (keys as they are);
//   - either of these inside an SNS envelope ({"Type": "Notification",
//     "Message": "<the JSON as a string>"}), when the subscription does not
//     use raw message delivery;
//   - an EventBridge event from S3, {"source": "aws.s3", "detail-type":
//     "Object Created", "detail": {"bucket": {"name"}, "object": {"key"}}}
//     (keys as they are: EventBridge does not URL-encode them);
//   - S3's s3:TestEvent, sent when a notification is configured (no
//     objects).
//
// Records of other S3 events (ObjectRemoved:*…) and other EventBridge
// detail types are counted in Ignored. Anything else is an error that says
// what was expected and, for a malformed known shape, which field is wrong
// (e.g. `Records[1].s3.object.key: missing`).
func ParseNotification(body []byte) (*Notification, error) {
	return parseNotification(body, false)
}

// envelope holds the top-level members that tell the shapes apart; one
// decode of the body fills it (the members are decoded further only for
// the shape found).
type envelope struct {
	Records     json.RawMessage `json:"Records"`
	S3Bucket    json.RawMessage `json:"s3Bucket"`
	S3ObjectKey json.RawMessage `json:"s3ObjectKey"`
	Event       json.RawMessage `json:"Event"`
	Service     json.RawMessage `json:"Service"`
	DetailType  json.RawMessage `json:"detail-type"`
	Detail      json.RawMessage `json:"detail"`
	Source      json.RawMessage `json:"source"`
	Type        json.RawMessage `json:"Type"`
	Message     json.RawMessage `json:"Message"`
}

func parseNotification(body []byte, inSNS bool) (*Notification, error) {
	if len(body) > maxNotificationSize {
		return nil, fmt.Errorf("message body of %d bytes is larger than any notification", len(body))
	}
	var top envelope
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("message body is not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, errors.New("message body has data after its JSON object")
	}
	switch {
	case top.Records != nil:
		return parseS3Event(top.Records, inSNS)
	case top.S3Bucket != nil || top.S3ObjectKey != nil:
		return parseCloudTrailSNS(&top, inSNS)
	case top.Event != nil && top.Service != nil:
		return parseTestEvent(&top, inSNS)
	case top.DetailType != nil || top.Detail != nil:
		if inSNS {
			return nil, errors.New("Message: an EventBridge event inside an SNS envelope is not a supported shape")
		}
		return parseEventBridge(&top)
	case top.Type != nil && top.Message != nil:
		if inSNS {
			return nil, errors.New("Message: an SNS envelope inside an SNS envelope")
		}
		return parseSNS(&top)
	}
	return nil, fmt.Errorf("not a known notification (keys %s): expected an S3 event notification (Records[].s3), "+
		"CloudTrail's SNS notification (s3Bucket, s3ObjectKey), either in an SNS envelope (Type, Message), "+
		"or an EventBridge Object Created event (detail-type, detail)", keyList(body))
}

// keyList names a few top-level keys of an unknown message, for its error.
func keyList(body []byte) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(body, &m)
	var ks []string
	for k := range m {
		if len(ks) == 5 {
			ks = append(ks, "…")
			break
		}
		ks = append(ks, fmt.Sprintf("%q", k))
	}
	if len(ks) == 0 {
		return "none"
	}
	return strings.Join(ks, ", ")
}

// shape picks the plain or the SNS-wrapped name.
func shape(plain, wrapped string, inSNS bool) string {
	if inSNS {
		return wrapped
	}
	return plain
}

type s3EventRecord struct {
	EventSource string `json:"eventSource"`
	EventName   string `json:"eventName"`
	S3          *struct {
		Bucket *struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object *struct {
			Key *string `json:"key"`
		} `json:"object"`
	} `json:"s3"`
}

func parseS3Event(raw json.RawMessage, inSNS bool) (*Notification, error) {
	var records []s3EventRecord
	if err := json.Unmarshal(raw, &records); err != nil {
		return nil, s3EventError(raw)
	}
	if len(records) == 0 {
		return nil, errors.New("Records: empty")
	}
	n := &Notification{Shape: shape(ShapeS3Event, ShapeSNSS3Event, inSNS)}
	for i := range records {
		ref, created, err := records[i].object()
		if err != nil {
			return nil, fmt.Errorf("Records[%d].%v", i, err)
		}
		if !created {
			n.Ignored++
			continue
		}
		n.Objects = append(n.Objects, ref)
	}
	if len(n.Objects) == 0 && n.Ignored > 0 {
		n.Shape = ShapeOther
	}
	return n, nil
}

// s3EventError says which part of a Records array that does not decode is
// wrong (the error path only: it decodes element by element).
func s3EventError(raw json.RawMessage) error {
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return errors.New("Records: not an array")
	}
	for i, r := range elems {
		var rec s3EventRecord
		if err := json.Unmarshal(r, &rec); err != nil {
			return fmt.Errorf("Records[%d]: not an S3 event record: %v", i, err)
		}
	}
	return errors.New("Records: not an array of S3 event records")
}

// object checks one record; created is false for other S3 events.
func (r *s3EventRecord) object() (ObjectRef, bool, error) {
	switch {
	case r.S3 == nil:
		return ObjectRef{}, false, errors.New("s3: missing (a CloudTrail log file's Records are not notifications)")
	case r.S3.Bucket == nil || r.S3.Bucket.Name == "":
		return ObjectRef{}, false, errors.New("s3.bucket.name: missing")
	case r.S3.Object == nil || r.S3.Object.Key == nil || *r.S3.Object.Key == "":
		return ObjectRef{}, false, errors.New("s3.object.key: missing")
	}
	if r.EventName != "" && !strings.HasPrefix(strings.TrimPrefix(r.EventName, "s3:"), "ObjectCreated:") {
		return ObjectRef{}, false, nil
	}
	key, err := url.QueryUnescape(*r.S3.Object.Key)
	if err != nil {
		return ObjectRef{}, false, fmt.Errorf("s3.object.key: %q is not URL-encoded as S3 encodes keys: %v", *r.S3.Object.Key, err)
	}
	return ObjectRef{Bucket: r.S3.Bucket.Name, Key: key}, true, nil
}

func parseCloudTrailSNS(top *envelope, inSNS bool) (*Notification, error) {
	var bucket string
	if err := json.Unmarshal(top.S3Bucket, &bucket); err != nil || bucket == "" {
		return nil, errors.New("s3Bucket: missing or not a string")
	}
	var keys []string
	if err := json.Unmarshal(top.S3ObjectKey, &keys); err != nil {
		return nil, errors.New("s3ObjectKey: missing or not an array of strings")
	}
	if len(keys) == 0 {
		return nil, errors.New("s3ObjectKey: empty")
	}
	n := &Notification{Shape: shape(ShapeCloudTrailSNS, ShapeSNSCloudTrail, inSNS)}
	for i, k := range keys {
		if k == "" {
			return nil, fmt.Errorf("s3ObjectKey[%d]: empty", i)
		}
		n.Objects = append(n.Objects, ObjectRef{Bucket: bucket, Key: k})
	}
	return n, nil
}

func parseTestEvent(top *envelope, inSNS bool) (*Notification, error) {
	var event string
	if err := json.Unmarshal(top.Event, &event); err != nil || event != "s3:TestEvent" {
		return nil, fmt.Errorf("Event: %s is not s3:TestEvent", top.Event)
	}
	return &Notification{Shape: shape(ShapeS3TestEvent, ShapeSNSTestEvent, inSNS)}, nil
}

type eventBridgeDetail struct {
	Bucket *struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object *struct {
		Key *string `json:"key"`
	} `json:"object"`
}

func parseEventBridge(top *envelope) (*Notification, error) {
	var source, detailType string
	if top.Source != nil {
		if err := json.Unmarshal(top.Source, &source); err != nil {
			return nil, errors.New("source: not a string")
		}
	}
	if source != "aws.s3" {
		return nil, fmt.Errorf("source: %q is not aws.s3 (only S3 events announce objects)", source)
	}
	if top.DetailType != nil {
		if err := json.Unmarshal(top.DetailType, &detailType); err != nil {
			return nil, errors.New("detail-type: not a string")
		}
	}
	if detailType != "Object Created" {
		return &Notification{Shape: ShapeOther, Ignored: 1}, nil
	}
	var d *eventBridgeDetail
	if top.Detail != nil {
		if err := json.Unmarshal(top.Detail, &d); err != nil {
			return nil, fmt.Errorf("detail: not an S3 event detail: %v", err)
		}
	}
	switch {
	case d == nil:
		return nil, errors.New("detail: missing")
	case d.Bucket == nil || d.Bucket.Name == "":
		return nil, errors.New("detail.bucket.name: missing")
	case d.Object == nil || d.Object.Key == nil || *d.Object.Key == "":
		return nil, errors.New("detail.object.key: missing")
	}
	return &Notification{Shape: ShapeEventBridge, Objects: []ObjectRef{{Bucket: d.Bucket.Name, Key: *d.Object.Key}}}, nil
}

func parseSNS(top *envelope) (*Notification, error) {
	var typ, msg string
	if err := json.Unmarshal(top.Type, &typ); err != nil || typ != "Notification" {
		return nil, fmt.Errorf("Type: %s is not an SNS Notification", top.Type)
	}
	if err := json.Unmarshal(top.Message, &msg); err != nil {
		return nil, errors.New("Message: not a string")
	}
	n, err := parseNotification([]byte(msg), true)
	if err != nil {
		return nil, fmt.Errorf("SNS Message: %w", err)
	}
	return n, nil
}
