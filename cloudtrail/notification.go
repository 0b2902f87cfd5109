package cloudtrail

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
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

func parseNotification(body []byte, inSNS bool) (*Notification, error) {
	if len(body) > maxNotificationSize {
		return nil, fmt.Errorf("message body of %d bytes is larger than any notification", len(body))
	}
	if len(body) > maxNotificationDepth && tooDeep(body) || !gjson.ValidBytes(body) {
		return nil, invalidBody(body)
	}
	top := gjson.ParseBytes(body)
	if !top.IsObject() {
		return nil, fmt.Errorf("message body is not a JSON object: it is %s", kind(top))
	}
	// The fields are read with gjson. A member that is null still tells the
	// shapes apart; where a member is read, null reads as absent.
	has := func(name string) bool { return top.Get(name).Exists() }
	switch {
	case has("Records"):
		return parseS3Event(top.Get("Records"), inSNS)
	case has("s3Bucket") || has("s3ObjectKey"):
		return parseCloudTrailSNS(top, inSNS)
	case has("Event") && has("Service"):
		return parseTestEvent(top, inSNS)
	case has("detail-type") || has("detail"):
		if inSNS {
			return nil, errors.New("Message: an EventBridge event inside an SNS envelope is not a supported shape")
		}
		return parseEventBridge(top)
	case has("Type") && has("Message"):
		if inSNS {
			return nil, errors.New("Message: an SNS envelope inside an SNS envelope")
		}
		return parseSNS(top)
	}
	return nil, fmt.Errorf("not a known notification (keys %s): expected an S3 event notification (Records[].s3), "+
		"CloudTrail's SNS notification (s3Bucket, s3ObjectKey), either in an SNS envelope (Type, Message), "+
		"or an EventBridge Object Created event (detail-type, detail)", keyList(top))
}

// maxNotificationDepth bounds container nesting as encoding/json does. It
// guards gjson, whose validator recurses once per level: 1 MiB of '[' would
// otherwise grow the goroutine's stack by some 128 MB.
const maxNotificationDepth = 10000

// tooDeep reports whether containers nest deeper than maxNotificationDepth
// (brackets in strings do not count). It is exact for valid JSON; for
// invalid JSON it only routes the body to invalidBody, which finds the error.
func tooDeep(body []byte) bool {
	depth, inString := 0, false
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > maxNotificationDepth {
				return true
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return false
}

// invalidBody says why a body that is not valid JSON was rejected, in
// encoding/json's words (the error path only).
func invalidBody(body []byte) error {
	var first json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&first); err != nil {
		return fmt.Errorf("message body is not a JSON object: %v", err)
	}
	if first[0] != '{' {
		return fmt.Errorf("message body is not a JSON object: it is %s", kind(gjson.ParseBytes(first)))
	}
	return errors.New("message body has data after its JSON object")
}

// kind names the JSON type of v, for errors.
func kind(v gjson.Result) string {
	switch {
	case v.IsObject():
		return "an object"
	case v.IsArray():
		return "an array"
	case v.Type == gjson.String:
		return "a string"
	case v.Type == gjson.Number:
		return "a number"
	case v.Type == gjson.True || v.Type == gjson.False:
		return "a boolean"
	}
	return "null"
}

// stringAt reads the string at path in obj: "" when it is absent or null,
// an error naming path when it is another type.
func stringAt(obj gjson.Result, path string) (string, error) {
	switch v := obj.Get(path); v.Type {
	case gjson.String:
		return text(v), nil
	case gjson.Null:
		return "", nil
	default:
		return "", fmt.Errorf("%s: %s, not a string", path, kind(v))
	}
}

// text is the value of a JSON string with each byte that is not UTF-8
// replaced by U+FFFD, as encoding/json reads strings.
func text(v gjson.Result) string {
	if utf8.ValidString(v.Str) {
		return v.Str
	}
	return string([]rune(v.Str))
}

// objectAt checks that path in obj is an object, absent or null.
func objectAt(obj gjson.Result, path string) error {
	if v := obj.Get(path); v.Type != gjson.Null && !v.IsObject() {
		return fmt.Errorf("%s: %s, not an object", path, kind(v))
	}
	return nil
}

// bucketAndKey reads <prefix>.bucket.name and <prefix>.object.key ("" when
// absent or null), checking the type of every level on the way.
func bucketAndKey(obj gjson.Result, prefix string) (bucket, key string, err error) {
	for _, p := range []string{prefix, prefix + ".bucket", prefix + ".object"} {
		if err := objectAt(obj, p); err != nil {
			return "", "", err
		}
	}
	if bucket, err = stringAt(obj, prefix+".bucket.name"); err != nil {
		return "", "", err
	}
	if key, err = stringAt(obj, prefix+".object.key"); err != nil {
		return "", "", err
	}
	return bucket, key, nil
}

// keyList names a few top-level keys of an unknown message, for its error.
func keyList(top gjson.Result) string {
	var ks []string
	top.ForEach(func(k, _ gjson.Result) bool {
		if q := fmt.Sprintf("%q", k.Str); !slices.Contains(ks, q) {
			ks = append(ks, q)
		}
		return len(ks) <= 5
	})
	if len(ks) == 0 {
		return "none"
	}
	if len(ks) > 5 {
		ks = append(ks[:5], "…")
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

// s3EventRecord is what one Records element of an S3 event says; "" is
// absent or null.
type s3EventRecord struct {
	eventName   string
	hasS3       bool
	bucket, key string
}

// readS3EventRecord reads one Records element, checking the type of every
// member it reads (a null element reads as an empty record).
func readS3EventRecord(elem gjson.Result) (r s3EventRecord, err error) {
	if elem.Type != gjson.Null && !elem.IsObject() {
		return r, fmt.Errorf(": not an S3 event record: it is %s", kind(elem))
	}
	if _, err = stringAt(elem, "eventSource"); err != nil {
		return r, fmt.Errorf(".%v", err)
	}
	if r.eventName, err = stringAt(elem, "eventName"); err != nil {
		return r, fmt.Errorf(".%v", err)
	}
	r.hasS3 = elem.Get("s3").IsObject()
	if r.bucket, r.key, err = bucketAndKey(elem, "s3"); err != nil {
		return r, fmt.Errorf(".%v", err)
	}
	return r, nil
}

func parseS3Event(raw gjson.Result, inSNS bool) (*Notification, error) {
	if raw.Type != gjson.Null && !raw.IsArray() {
		return nil, errors.New("Records: not an array")
	}
	elems := raw.Array()
	if len(elems) == 0 {
		return nil, errors.New("Records: empty")
	}
	// Every element is read before any is checked, so a malformed element
	// is reported before a record that merely lacks a field.
	records := make([]s3EventRecord, len(elems))
	for i, e := range elems {
		var err error
		if records[i], err = readS3EventRecord(e); err != nil {
			return nil, fmt.Errorf("Records[%d]%v", i, err)
		}
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

// object checks one record; created is false for other S3 events.
func (r *s3EventRecord) object() (ObjectRef, bool, error) {
	switch {
	case !r.hasS3:
		return ObjectRef{}, false, errors.New("s3: missing (a CloudTrail log file's Records are not notifications)")
	case r.bucket == "":
		return ObjectRef{}, false, errors.New("s3.bucket.name: missing")
	case r.key == "":
		return ObjectRef{}, false, errors.New("s3.object.key: missing")
	}
	if r.eventName != "" && !strings.HasPrefix(strings.TrimPrefix(r.eventName, "s3:"), "ObjectCreated:") {
		return ObjectRef{}, false, nil
	}
	key, err := url.QueryUnescape(r.key)
	if err != nil {
		return ObjectRef{}, false, fmt.Errorf("s3.object.key: %q is not URL-encoded as S3 encodes keys: %v", r.key, err)
	}
	return ObjectRef{Bucket: r.bucket, Key: key}, true, nil
}

func parseCloudTrailSNS(top gjson.Result, inSNS bool) (*Notification, error) {
	bucket := top.Get("s3Bucket")
	if bucket.Type != gjson.String || bucket.Str == "" {
		return nil, errors.New("s3Bucket: missing or not a string")
	}
	keys := top.Get("s3ObjectKey")
	if !keys.IsArray() && !(keys.Exists() && keys.Type == gjson.Null) {
		return nil, errors.New("s3ObjectKey: missing or not an array of strings")
	}
	elems := keys.Array()
	for _, k := range elems {
		if k.Type != gjson.String && k.Type != gjson.Null {
			return nil, errors.New("s3ObjectKey: missing or not an array of strings")
		}
	}
	if len(elems) == 0 {
		return nil, errors.New("s3ObjectKey: empty")
	}
	n := &Notification{Shape: shape(ShapeCloudTrailSNS, ShapeSNSCloudTrail, inSNS)}
	for i, k := range elems {
		if k.Str == "" {
			return nil, fmt.Errorf("s3ObjectKey[%d]: empty", i)
		}
		n.Objects = append(n.Objects, ObjectRef{Bucket: text(bucket), Key: text(k)})
	}
	return n, nil
}

func parseTestEvent(top gjson.Result, inSNS bool) (*Notification, error) {
	if event := top.Get("Event"); event.Type != gjson.String || event.Str != "s3:TestEvent" {
		return nil, fmt.Errorf("Event: %s is not s3:TestEvent", event.Raw)
	}
	return &Notification{Shape: shape(ShapeS3TestEvent, ShapeSNSTestEvent, inSNS)}, nil
}

func parseEventBridge(top gjson.Result) (*Notification, error) {
	source, err := stringAt(top, "source")
	if err != nil {
		return nil, err
	}
	if source != "aws.s3" {
		return nil, fmt.Errorf("source: %q is not aws.s3 (only S3 events announce objects)", source)
	}
	detailType, err := stringAt(top, "detail-type")
	if err != nil {
		return nil, err
	}
	if detailType != "Object Created" {
		return &Notification{Shape: ShapeOther, Ignored: 1}, nil
	}
	bucket, key, err := bucketAndKey(top, "detail")
	switch {
	case err != nil:
		return nil, err
	case !top.Get("detail").IsObject():
		return nil, errors.New("detail: missing")
	case bucket == "":
		return nil, errors.New("detail.bucket.name: missing")
	case key == "":
		return nil, errors.New("detail.object.key: missing")
	}
	return &Notification{Shape: ShapeEventBridge, Objects: []ObjectRef{{Bucket: bucket, Key: key}}}, nil
}

func parseSNS(top gjson.Result) (*Notification, error) {
	if typ := top.Get("Type"); typ.Type != gjson.String || typ.Str != "Notification" {
		return nil, fmt.Errorf("Type: %s is not an SNS Notification", typ.Raw)
	}
	msg := top.Get("Message")
	if msg.Type != gjson.String && msg.Type != gjson.Null {
		return nil, errors.New("Message: not a string")
	}
	n, err := parseNotification([]byte(text(msg)), true)
	if err != nil {
		return nil, fmt.Errorf("SNS Message: %w", err)
	}
	return n, nil
}
