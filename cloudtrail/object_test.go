package cloudtrail

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/filter"
	"github.com/opsworks-trail/opsworks-trail/record"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

var opsworksSources = []string{"opsworks.amazonaws.com", "opsworks-cm.amazonaws.com"}

func TestReadFileFixtures(t *testing.T) {
	tests := []struct {
		file        string
		reason      Reason // "" = success
		total, kept int
		offset      int64 // for invalid JSON
		mention     string
		notObjects  string
	}{
		{file: "mixed.json.gz", total: 6, kept: 2},
		{file: "mixed.json", total: 6, kept: 2},
		{file: "pretty.json", total: 6, kept: 2},
		{file: "escaped.json", total: 6, kept: 2},
		{file: "empty-records.json", total: 0, kept: 0},
		{file: "not-object-element.json", total: 3, kept: 0, notObjects: "[Records[0] is a number, not an object Records[1] is a string, not an object]"},
		{file: "truncated.json.gz", reason: ReasonTruncatedGzip, offset: -1},
		{file: "bad-checksum.json.gz", reason: ReasonCorruptGzip, offset: -1, mention: "checksum"},
		{file: "notgzip.bin", reason: ReasonNotJSON, offset: -1, mention: "starts with 28 b5 2f fd"},
		{file: "records-not-array.json", reason: ReasonRecordsNotArray, offset: -1, mention: "is an object"},
		{file: "empty.json", reason: ReasonEmpty, offset: -1, mention: "0 bytes"},
		{file: "empty.json.gz", reason: ReasonEmpty, offset: -1, mention: "no content"},
		{file: "whitespace.json", reason: ReasonEmpty, offset: -1},
		{file: "invalid.json", reason: ReasonInvalidJSON, offset: 36, mention: "in Records[0]"},
		{file: "trailing-comma.json", reason: ReasonInvalidJSON, offset: 187, mention: "expected a value"},
		{file: "no-records.json", reason: ReasonNoRecords, offset: -1},
		{file: "digest.json.gz", reason: ReasonNoRecords, offset: -1, mention: "digest"},
		{file: "top-level-array.json", reason: ReasonNoRecords, offset: -1, mention: "is an array"},
		{file: "garbage-after.json", reason: ReasonInvalidJSON, offset: 15, mention: "after the end"},
		{file: "no-such-file.json", reason: ReasonNotFound, offset: -1},
	}
	r := NewObjectReader(ReadOptions{EventSources: opsworksSources})
	fsys := os.DirFS("testdata")
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			res, err := r.ReadFile(fsys, tc.file)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				if res.Total != tc.total || res.Kept != tc.kept || len(res.Events) != tc.kept || res.Key != tc.file {
					t.Fatalf("total %d kept %d (%d events) key %q, want %d/%d", res.Total, res.Kept, len(res.Events), res.Key, tc.total, tc.kept)
				}
				if got := fmt.Sprint(res.NotObjects); tc.notObjects != "" && got != tc.notObjects {
					t.Errorf("not objects: %s, want %s", got, tc.notObjects)
				}
				return
			}
			var oe *ObjectError
			if !errors.As(err, &oe) {
				t.Fatalf("error %v (%T), want an *ObjectError", err, err)
			}
			if oe.Reason != tc.reason || oe.Offset != tc.offset || oe.Key != tc.file || oe.Bucket != "" {
				t.Errorf("got %q at %d for %q, want %q at %d", oe.Reason, oe.Offset, oe.Key, tc.reason, tc.offset)
			}
			if !strings.HasPrefix(err.Error(), tc.file+": "+string(tc.reason)) || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("message %q should start with the file and reason and mention %q", err, tc.mention)
			}
			if Retryable(err) {
				t.Errorf("%v must not be retryable", err)
			}
		})
	}
}

func TestKeptEventsAreTheOpsWorksOnes(t *testing.T) {
	res, err := NewObjectReader(ReadOptions{EventSources: opsworksSources}).ReadFile(os.DirFS("testdata"), "pretty.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range res.Events {
		var e struct{ EventSource, EventName string }
		if err := json.Unmarshal(ev, &e); err != nil {
			t.Fatalf("kept event is not valid JSON: %v", err)
		}
		if !strings.HasPrefix(e.EventSource, "opsworks") {
			t.Errorf("kept %s/%s", e.EventSource, e.EventName)
		}
	}
	all, err := NewObjectReader(ReadOptions{}).ReadFile(os.DirFS("testdata"), "pretty.json")
	if err != nil || all.Kept != 6 {
		t.Fatalf("without sources every event is kept: %v %+v", err, all)
	}
}

// TestPushDownMatchesFilter proves the push-down changes nothing: the
// filter's output for the whole file equals its output for the kept events.
func TestPushDownMatchesFilter(t *testing.T) {
	docs := map[string][]byte{}
	for _, name := range []string{"mixed.json", "pretty.json", "escaped.json"} {
		b, err := readTestdata(name)
		if err != nil {
			t.Fatal(err)
		}
		docs[name] = b
	}
	for i, f := range corpus.LogFiles(corpus.Options{Seed: 7, Events: 600, OpsWorksShare: 0.05, EventsPerFile: 50}) {
		if i < 8 {
			docs[f.Key] = f.Body
		}
	}
	for name, doc := range docs {
		for _, keepOther := range []bool{false, true} {
			cfg, err := filter.LoadConfig(config.MapGetter{"source_key": "log", "retag": "off", "keep_other_events": strconv.FormatBool(keepOther)})
			if err != nil {
				t.Fatal(err)
			}
			res, err := NewObjectReader(ReadOptions{EventSources: cfg.PushDownSources()}).Decode(bytes.NewReader(doc), 0)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			whole := runFilter(t, cfg, [][]byte{doc})
			pushed := runFilter(t, cfg, res.Events)
			if whole != pushed {
				t.Errorf("%s (keep_other_events %v): filter output differs with the push-down\nwhole:  %s\npushed: %s", name, keepOther, whole, pushed)
			}
		}
	}
}

// runFilter feeds texts as `tail`-style records through a fresh processor
// and returns the output records as JSON lines.
func runFilter(t *testing.T, cfg *filter.Config, texts [][]byte) string {
	t.Helper()
	var chunk []byte
	for _, text := range texts {
		chunk = record.AppendTextRecord(chunk, record.EventTime{Sec: 1717200000}, "log", text)
	}
	p := filter.NewProcessor(cfg, func(string) {})
	var res filter.Result
	if err := p.FilterChunk(chunk, &res); err != nil {
		t.Fatal(err)
	}
	out := res.Keep
	if !res.Modified {
		out = chunk
	}
	var lines []string
	err := record.ForEachRecord(out, func(_ record.EventTime, body *record.Value) error {
		lines = append(lines, string(record.AppendJSON(nil, body)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

func TestMaxObjectSize(t *testing.T) {
	// A gzip bomb: a few KB that inflate to 8 MiB of whitespace.
	bomb := s3test.MustGzip(t, append(append([]byte(`{"Records":[`), bytes.Repeat([]byte(" "), 8<<20)...), "]}"...))
	r := NewObjectReader(ReadOptions{MaxObjectSize: 1 << 20})
	_, err := r.Decode(bytes.NewReader(bomb), int64(len(bomb)))
	var oe *ObjectError
	if !errors.As(err, &oe) || oe.Reason != ReasonOversized || Retryable(err) {
		t.Fatalf("bomb: %v", err)
	}
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb is %d bytes compressed; the test wants a small one", len(bomb))
	}

	exact := append(append([]byte(`{"Records":[`), bytes.Repeat([]byte(" "), 1000-14)...), "]}"...)
	if _, err := NewObjectReader(ReadOptions{MaxObjectSize: 1000}).Decode(bytes.NewReader(exact), 0); err != nil {
		t.Errorf("an object of exactly the limit must be accepted: %v", err)
	}
	if _, err := NewObjectReader(ReadOptions{MaxObjectSize: 999}).Decode(bytes.NewReader(exact), 0); !errors.As(err, &oe) || oe.Reason != ReasonOversized {
		t.Errorf("one byte over: %v", err)
	}

	// A stored size over the limit is refused before reading a byte.
	_, err = NewObjectReader(ReadOptions{MaxObjectSize: 10}).Decode(failingReader{}, 11)
	if !errors.As(err, &oe) || oe.Reason != ReasonOversized {
		t.Errorf("stored size: %v", err)
	}
	if NewObjectReader(ReadOptions{}).maxSize != DefaultMaxObjectSize {
		t.Error("default limit")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { panic("read called") }

// TestTransportVersusTruncatedObject: the same truncated gzip bytes are a
// bad object when that is all the store has, and a retryable transport
// failure when the body was cut short of its announced size or broke.
func TestTransportVersusTruncatedObject(t *testing.T) {
	gz, err := readTestdata("mixed.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	half := gz[:len(gz)/2]
	r := NewObjectReader(ReadOptions{})
	tests := []struct {
		name   string
		src    io.Reader
		size   int64
		reason Reason
	}{
		{"stored truncated", bytes.NewReader(half), int64(len(half)), ReasonTruncatedGzip},
		{"stored truncated, size unknown", bytes.NewReader(half), 0, ReasonTruncatedGzip},
		{"short body", bytes.NewReader(half), int64(len(gz)), ReasonTransport},
		{"reset mid-body", io.MultiReader(bytes.NewReader(half), errReader{&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", errConnReset)}}), 0, ReasonTransport},
		{"reset mid plain body", io.MultiReader(strings.NewReader(`{"Records":[{"eventSource":"opsw`), errReader{io.ErrUnexpectedEOF}), 0, ReasonTransport},
		{"reset before the first byte", errReader{errConnReset}, 0, ReasonTransport},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Decode(tc.src, tc.size)
			var oe *ObjectError
			if !errors.As(err, &oe) || oe.Reason != tc.reason {
				t.Fatalf("got %v, want %q", err, tc.reason)
			}
			if Retryable(err) != tc.reason.Retryable() {
				t.Errorf("Retryable = %v", Retryable(err))
			}
		})
	}
}

type errReader struct{ err error }

var errConnReset error = syscall.ECONNRESET

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestGetFromFakeS3(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	mixed, _ := readTestdata("mixed.json.gz")
	f.Put(t, "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-1_20240531T2355Z_a1B2c3D4e5F6g7H8.json.gz", mixed)
	f.Put(t, "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/bad.json.gz", mixed[:100])
	r := NewObjectReader(ReadOptions{EventSources: opsworksSources})
	ctx := context.Background()

	res, err := r.Get(ctx, f.Client, s3test.TestBucket, "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-1_20240531T2355Z_a1B2c3D4e5F6g7H8.json.gz")
	if err != nil || res.Total != 6 || res.Kept != 2 || !res.Compressed || res.Bucket != s3test.TestBucket {
		t.Fatalf("get: %v %+v", err, res)
	}
	_, err = r.Get(ctx, f.Client, s3test.TestBucket, "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/bad.json.gz")
	if !strings.HasPrefix(errString(err), "s3://"+s3test.TestBucket+"/AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/bad.json.gz: truncated gzip") || Retryable(err) {
		t.Errorf("truncated object: %v", err)
	}
	_, err = r.Get(ctx, f.Client, s3test.TestBucket, "AWSLogs/gone.json.gz")
	var oe *ObjectError
	if !errors.As(err, &oe) || oe.Reason != ReasonNotFound || Retryable(err) || oe.Key != "AWSLogs/gone.json.gz" {
		t.Errorf("missing key: %v", err)
	}
}

// Content: an object whole, uncompressed and unsplit, with its metadata;
// errors as Get's, naming the object; FileContent the same for a tree.
func TestContent(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	mixed, _ := readTestdata("mixed.json.gz")
	plain := []byte(`{"not":"a log file"}`)
	ctx := context.Background()
	if _, err := f.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3test.TestBucket), Key: aws.String("d.json.gz"),
		Body: bytes.NewReader(mixed), Metadata: map[string]string{"signature": "abc"}}); err != nil {
		t.Fatal(err)
	}
	f.Put(t, "p.json", plain)
	f.Put(t, "bad.json.gz", mixed[:100])
	r := NewObjectReader(ReadOptions{})
	want, err := gunzipAll(mixed)
	if err != nil {
		t.Fatal(err)
	}
	data, meta, err := r.Content(ctx, f.Client, s3test.TestBucket, "d.json.gz")
	if err != nil || !bytes.Equal(data, want) || meta["signature"] != "abc" {
		t.Fatalf("gzip object: %v, %d bytes, metadata %v", err, len(data), meta)
	}
	if data, _, err := r.Content(ctx, f.Client, s3test.TestBucket, "p.json"); err != nil || !bytes.Equal(data, plain) {
		t.Fatalf("plain object: %v %q", err, data)
	}
	if _, _, err := r.Content(ctx, f.Client, s3test.TestBucket, "bad.json.gz"); !strings.HasPrefix(errString(err), "s3://"+s3test.TestBucket+"/bad.json.gz: truncated gzip") {
		t.Fatalf("truncated object: %v", err)
	}
	fsys := fstest.MapFS{"d.json.gz": &fstest.MapFile{Data: mixed}}
	if data, err := r.FileContent(fsys, "d.json.gz"); err != nil || !bytes.Equal(data, want) {
		t.Fatalf("file: %v, %d bytes", err, len(data))
	}
	if _, err := r.FileContent(fsys, "gone.json"); !strings.Contains(errString(err), "gone.json") {
		t.Fatalf("missing file: %v", err)
	}
}

func gunzipAll(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestS3ErrorClassification drives the real SDK against scripted responses.
func TestS3ErrorClassification(t *testing.T) {
	body, _ := readTestdata("mixed.json.gz")
	respond := func(status int, code, msg string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			io.WriteString(w, s3test.ErrorXML(code, msg))
		}
	}
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		reason    Reason
		retryable bool
	}{
		{"SlowDown 503", respond(503, "SlowDown", "Please reduce your request rate."), ReasonThrottled, true},
		{"InternalError 500", respond(500, "InternalError", "We encountered an internal error. Please try again."), ReasonServer, true},
		{"bare 502 from a proxy", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(502)
			io.WriteString(w, "<html>Bad Gateway</html>")
		}, ReasonServer, true},
		{"NoSuchKey", respond(404, "NoSuchKey", "The specified key does not exist."), ReasonNotFound, false},
		{"AccessDenied", respond(403, "AccessDenied", "Access Denied"), ReasonAccessDenied, false},
		{"Glacier", respond(403, "InvalidObjectState", "The operation is not valid for the object's storage class"), ReasonArchived, false},
		{"reset before the response", func(w http.ResponseWriter, r *http.Request) {
			resetConnection(t, w)
		}, ReasonTransport, true},
		{"reset mid-body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(200)
			w.Write(body[:len(body)/2])
			resetConnection(t, w)
		}, ReasonTransport, true},
		{"EOF mid-body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(200)
			w.Write(body[:len(body)/2])
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, ReasonTransport, true},
	}
	key := "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-1_20240531T2355Z_a1B2c3D4e5F6g7H8.json.gz"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := s3test.Scripted(t, tc.handler)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := NewObjectReader(ReadOptions{}).Get(ctx, client, s3test.TestBucket, key)
			var oe *ObjectError
			if !errors.As(err, &oe) || oe.Reason != tc.reason {
				t.Fatalf("got %v, want reason %q", err, tc.reason)
			}
			if Retryable(err) != tc.retryable {
				t.Errorf("Retryable(%v) = %v", err, !tc.retryable)
			}
			if !strings.Contains(err.Error(), "s3://"+s3test.TestBucket+"/"+key) {
				t.Errorf("message does not name the object: %v", err)
			}
		})
	}
}

// resetConnection ends the connection with a TCP RST.
func resetConnection(t *testing.T, w http.ResponseWriter) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	buf.Flush()
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

func TestRetryableOnPlainErrors(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{io.ErrUnexpectedEOF, true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errConnReset}, true},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{errors.New("something else"), false},
		{&ListError{Bucket: "b", Prefix: "p", Err: io.ErrUnexpectedEOF}, true},
		{&ObjectError{Reason: ReasonInvalidJSON}, false},
	}
	for i, tc := range tests {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("%d: Retryable(%v) = %v", i, tc.err, got)
		}
	}
}

// TestHash: with Hash, Result.SHA256 is over the uncompressed content, as
// CloudTrail's digests list it, whether the file is stored gzipped or not;
// without, it stays zero (no cost).
func TestHash(t *testing.T) {
	doc := []byte(`{"Records":[{"eventSource":"opsworks.amazonaws.com","eventName":"DescribeStacks"}]}`)
	want := sha256.Sum256(doc)
	for name, stored := range map[string][]byte{"plain": doc, "gzip": s3test.MustGzip(t, doc)} {
		res, err := NewObjectReader(ReadOptions{Hash: true}).Decode(bytes.NewReader(stored), int64(len(stored)))
		if err != nil {
			t.Fatal(err)
		}
		if res.SHA256 != want {
			t.Errorf("%s: SHA-256 %x, want %x", name, res.SHA256, want)
		}
		if res, _ := NewObjectReader(ReadOptions{}).Decode(bytes.NewReader(stored), 0); res.SHA256 != ([32]byte{}) {
			t.Errorf("%s: hashed although Hash is off", name)
		}
	}
}

// A TLS certificate the client does not trust is configuration, not a
// passing failure: its own reason, never retried — by us or by the SDK's
// retryer, which would otherwise count the failed handshake as a broken
// connection.
func TestCertificateErrorsAreNotRetried(t *testing.T) {
	for _, err := range []error{
		&url.Error{Op: "Get", URL: "https://minio.test/", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}},
		fmt.Errorf("operation error S3: ListObjectsV2: %w", x509.HostnameError{Host: "s3.example"}),
	} {
		if r := Classify(err); r != ReasonCertificate || Retryable(err) {
			t.Errorf("%v: %s, retryable %v", err, r, Retryable(err))
		}
		if newRetryer(5)().IsErrorRetryable(err) {
			t.Errorf("%v: the SDK's retryer would retry it", err)
		}
	}
	if !newRetryer(5)().IsErrorRetryable(&url.Error{Op: "Get", URL: "https://s3/", Err: &net.OpError{Op: "read", Err: syscall.ECONNRESET}}) {
		t.Error("a reset connection is no longer retried")
	}
}
