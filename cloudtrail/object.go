package cloudtrail

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sync"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// s3Getter is the one S3 call reading needs (satisfied by *s3.Client).
type s3Getter interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// DefaultMaxObjectSize bounds one object's uncompressed size. CloudTrail
// files are a few MB; the bound exists against gzip bombs and mistakes
// (a huge unrelated file under the prefix), not to limit real trails.
const DefaultMaxObjectSize = 512 << 20

// ReadOptions configure an ObjectReader.
type ReadOptions struct {
	// MaxObjectSize is the largest accepted uncompressed object; 0 means
	// DefaultMaxObjectSize.
	MaxObjectSize int64
	// EventSources is the push-down: only events whose eventSource is one
	// of these values are returned, judged exactly as the filter selects
	// (the first top-level "eventSource" member, a string, escapes decoded).
	// Empty returns every event. Pass the filter's event_sources, or nothing
	// when keep_other_events is on (see filter.Config.PushDownSources).
	EventSources []string
}

// Result is what one object held.
type Result struct {
	Bucket string // "" for local files
	Key    string
	// Events are the raw JSON bytes of the kept events, in file order; each
	// is a JSON object (starts with '{'). They are slices of the object's
	// uncompressed buffer: keeping any of them keeps the whole buffer, so
	// copy them (as filter.AppendTextRecord does) rather than hold them.
	Events [][]byte
	// NotObjects are Records elements that are not objects (CloudTrail
	// never writes them). They are not in Events: the filter only reports
	// them correctly inside a whole log file, so the caller reports them
	// (with the object's key) instead.
	NotObjects []BadElement
	Total      int   // elements of Records
	Kept       int   // len(Events)
	Size       int64 // uncompressed bytes
	Stored     int64 // bytes read from storage (compressed for gzip)
	Compressed bool  // the object was gzip
}

// BadElement is a Records element that is not an event.
type BadElement struct {
	Index int
	Kind  string // "a number", "a string", "an array", …
	// Raw is the element's JSON text, a slice of the object's buffer like
	// Result.Events (copy it to keep it).
	Raw []byte
}

func (b BadElement) String() string {
	return fmt.Sprintf("Records[%d] is %s, not an object", b.Index, b.Kind)
}

// ObjectReader reads and splits CloudTrail log files. It holds no per-call
// state and is safe for concurrent use.
type ObjectReader struct {
	maxSize int64
	match   sourceMatcher
}

// NewObjectReader returns a reader with the options' defaults applied.
func NewObjectReader(opts ReadOptions) *ObjectReader {
	r := &ObjectReader{maxSize: opts.MaxObjectSize, match: newSourceMatcher(opts.EventSources)}
	if r.maxSize <= 0 {
		r.maxSize = DefaultMaxObjectSize
	}
	return r
}

// Get reads one S3 object. Errors are *ObjectError naming the object.
func (r *ObjectReader) Get(ctx context.Context, client s3Getter, bucket, key string) (*Result, error) {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, &ObjectError{Bucket: bucket, Key: key, Reason: Classify(err), Offset: -1, Err: err}
	}
	defer out.Body.Close()
	size := aws.ToInt64(out.ContentLength)
	res, err := r.readChecked(out.Body, size)
	return locate(res, err, bucket, key)
}

// ReadFile reads one file of a local tree.
func (r *ObjectReader) ReadFile(fsys fs.FS, name string) (*Result, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, &ObjectError{Key: name, Reason: Classify(err), Offset: -1, Err: err}
	}
	defer f.Close()
	var size int64
	if info, err := f.Stat(); err == nil {
		size = info.Size()
	}
	res, err := r.readChecked(f, size)
	return locate(res, err, "", name)
}

// Decode reads a log file from src; size is its stored size if known
// (0 otherwise). Errors are *ObjectError without a location.
func (r *ObjectReader) Decode(src io.Reader, size int64) (*Result, error) {
	return r.readChecked(src, size)
}

// locate fills in where a result or error came from.
func locate(res *Result, err error, bucket, key string) (*Result, error) {
	if err != nil {
		var oe *ObjectError
		if errors.As(err, &oe) {
			oe.Bucket, oe.Key = bucket, key
		}
		return nil, err
	}
	res.Bucket, res.Key = bucket, key
	return res, nil
}

// readChecked rejects oversized objects before reading them, then reads.
func (r *ObjectReader) readChecked(src io.Reader, size int64) (*Result, error) {
	if size > r.maxSize {
		return nil, &ObjectError{Reason: ReasonOversized, Offset: -1,
			Detail: fmt.Sprintf("%d bytes stored, more than the %d-byte limit", size, r.maxSize)}
	}
	return r.read(src, size)
}

// read decompresses (when the gzip magic is there), bounds the size and
// splits the Records array, keeping the events the push-down selects.
func (r *ObjectReader) read(src io.Reader, size int64) (*Result, error) {
	body := &countingReader{r: src}
	data, gz, err := r.load(body, size)
	if err != nil {
		return nil, err
	}
	res := &Result{Size: int64(len(data)), Stored: body.n, Compressed: gz}
	err = splitRecords(data, func(ev, source []byte) {
		switch {
		case ev[0] != '{':
			res.NotObjects = append(res.NotObjects, BadElement{Index: res.Total, Kind: describeValue(ev[0]), Raw: ev})
		case r.match.keep(source):
			res.Events = append(res.Events, ev)
		}
		res.Total++
	})
	if err != nil {
		return nil, documentError(err)
	}
	res.Kept = len(res.Events)
	return res, nil
}

// load returns the uncompressed bytes of the object.
func (r *ObjectReader) load(body *countingReader, size int64) (data []byte, gz bool, err error) {
	var magic [2]byte
	n, _ := io.ReadFull(body, magic[:])
	if body.err != nil {
		return nil, false, transportError(body, size)
	}
	if n == 0 {
		return nil, false, &ObjectError{Reason: ReasonEmpty, Offset: -1, Detail: "0 bytes"}
	}
	content := io.MultiReader(bytes.NewReader(magic[:n]), body)
	gz = n == 2 && magic == [2]byte{0x1f, 0x8b}
	if gz {
		zr, err := r.gunzip(content)
		if err != nil {
			return nil, true, r.gzipError(body, size, err)
		}
		defer gzipReaders.Put(zr)
		content = zr
	}
	data, err = readBounded(content, r.maxSize, initialCapacity(size, gz))
	switch {
	case body.err != nil || (err != nil && size > 0 && body.n < size):
		return nil, gz, transportError(body, size)
	case err != nil && gz:
		return nil, gz, r.gzipError(body, size, err)
	case err != nil:
		return nil, gz, &ObjectError{Reason: Classify(err), Offset: -1, Err: err}
	case int64(len(data)) > r.maxSize:
		return nil, gz, &ObjectError{Reason: ReasonOversized, Offset: -1,
			Detail: fmt.Sprintf("more than %d bytes uncompressed", r.maxSize)}
	case len(data) == 0:
		return nil, gz, &ObjectError{Reason: ReasonEmpty, Offset: -1, Detail: "gzip stream with no content"}
	}
	return data, gz, nil
}

// gzipReaders are reused: a gzip.Reader carries a sizeable inflate state.
var gzipReaders sync.Pool

// gunzip returns a pooled gzip reader over src; the caller puts it back.
func (r *ObjectReader) gunzip(src io.Reader) (*gzip.Reader, error) {
	if zr, ok := gzipReaders.Get().(*gzip.Reader); ok {
		if err := zr.Reset(src); err != nil {
			gzipReaders.Put(zr)
			return nil, err
		}
		return zr, nil
	}
	return gzip.NewReader(src)
}

// initialCapacity guesses the uncompressed size from the stored one
// (CloudTrail gzip compresses about tenfold), without trusting it so far
// that a bogus size makes a huge allocation. The extra byte lets the read
// that returns io.EOF find room, so an exact guess never grows the buffer.
func initialCapacity(size int64, gz bool) int {
	if gz {
		size *= 10
	}
	return int(min(max(size+1, 4<<10), 64<<20))
}

// readBounded reads to EOF but at most limit+1 bytes, so the caller can
// tell "exactly the limit" from "over it" without reading a bomb to its end.
func readBounded(r io.Reader, limit int64, capacity int) ([]byte, error) {
	buf := make([]byte, 0, capacity)
	for int64(len(buf)) <= limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // let append choose the growth
		}
		n, err := r.Read(buf[len(buf):min(int64(cap(buf)), limit+1)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// gzipError tells a truncated object from a corrupt one, and both from a
// body cut off in transit (which looks the same to gzip).
func (r *ObjectReader) gzipError(body *countingReader, size int64, err error) error {
	if body.err != nil || (size > 0 && body.n < size) {
		return transportError(body, size)
	}
	reason := ReasonCorruptGzip
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		reason = ReasonTruncatedGzip
	}
	return &ObjectError{Reason: reason, Offset: -1, Detail: fmt.Sprintf("after %d stored bytes", body.n), Err: err}
}

func transportError(body *countingReader, size int64) error {
	err := body.err
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	detail := fmt.Sprintf("body ended after %d bytes", body.n)
	if size > 0 {
		detail = fmt.Sprintf("body ended after %d of %d bytes", body.n, size)
	}
	return &ObjectError{Reason: ReasonTransport, Offset: -1, Detail: detail, Err: err}
}

// documentError maps splitter errors to object errors.
func documentError(err error) error {
	var se *syntaxError
	var shape *shapeError
	switch {
	case errors.As(err, &shape):
		return &ObjectError{Reason: shape.reason, Offset: -1, Detail: shape.detail}
	case errors.As(err, &se):
		detail := se.msg
		if se.where != "" {
			detail += " (in " + se.where + ")"
		}
		return &ObjectError{Reason: ReasonInvalidJSON, Offset: int64(se.offset), Detail: detail}
	}
	return &ObjectError{Reason: ReasonInvalidJSON, Offset: -1, Err: err}
}

// countingReader counts the stored bytes read and remembers the first
// transport error, which is what separates "the object is bad" (not
// retryable) from "the connection broke" (retryable).
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// Reason says why an object could not be read.
type Reason string

// Reasons. Only ReasonTransport, ReasonThrottled and ReasonServer are
// retryable: everything else will fail the same way next time.
const (
	ReasonTransport       Reason = "connection failed" // reset, EOF mid-body, timeout: retryable
	ReasonThrottled       Reason = "throttled"         // SlowDown, 503, 429: retryable
	ReasonServer          Reason = "server error"      // other 5xx: retryable
	ReasonNotFound        Reason = "no such key"       // deleted since it was listed
	ReasonNoSuchBucket    Reason = "no such bucket"
	ReasonAccessDenied    Reason = "access denied"  // IAM, bucket policy, KMS key policy
	ReasonArchived        Reason = "archived"       // InvalidObjectState: Glacier/Deep Archive, restore it first
	ReasonCanceled        Reason = "canceled"       // the caller's context ended
	ReasonEmpty           Reason = "empty object"   // 0 bytes (or only whitespace)
	ReasonTruncatedGzip   Reason = "truncated gzip" // the stored gzip stream ends early
	ReasonCorruptGzip     Reason = "corrupt gzip"   // bad header, data or checksum
	ReasonNotJSON         Reason = "not gzip and not JSON"
	ReasonInvalidJSON     Reason = "invalid JSON"   // with the byte offset
	ReasonNoRecords       Reason = "no Records key" // valid JSON, not a log file (digests)
	ReasonRecordsNotArray Reason = "Records is not an array"
	ReasonOversized       Reason = "oversized" // over MaxObjectSize uncompressed
	ReasonOther           Reason = "error"     // anything unrecognised: not retried
)

// Retryable reports whether trying again later can succeed.
func (r Reason) Retryable() bool {
	return r == ReasonTransport || r == ReasonThrottled || r == ReasonServer
}

// ObjectError is a failed object, with enough to find it and act on it.
type ObjectError struct {
	Bucket string // "" for local files
	Key    string
	Reason Reason
	Offset int64 // byte offset in the uncompressed object (invalid JSON), else -1
	Detail string
	Err    error // the underlying error, if any
}

func (e *ObjectError) Error() string {
	where := e.Key
	if e.Bucket != "" {
		where = "s3://" + e.Bucket + "/" + e.Key
	}
	msg := where + ": " + string(e.Reason)
	if e.Offset >= 0 {
		msg += fmt.Sprintf(" at byte %d", e.Offset)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ObjectError) Unwrap() error { return e.Err }

// Retryable reports whether an error from this package (or from the S3
// client) is worth retrying: throttling, 5xx and broken connections are;
// missing or archived objects, denied access and bad content are not.
func Retryable(err error) bool {
	var oe *ObjectError
	if errors.As(err, &oe) {
		return oe.Reason.Retryable()
	}
	return err != nil && Classify(err).Retryable()
}

// S3 error codes by reason. SlowDown is S3's own 503 throttling code.
var s3Codes = map[string]Reason{
	"SlowDown": ReasonThrottled, "Throttling": ReasonThrottled, "ThrottlingException": ReasonThrottled,
	"RequestLimitExceeded": ReasonThrottled, "TooManyRequestsException": ReasonThrottled,
	"RequestThrottled": ReasonThrottled, "BandwidthLimitExceeded": ReasonThrottled,
	"InternalError": ReasonServer, "ServiceUnavailable": ReasonServer, "RequestTimeout": ReasonServer,
	"NoSuchKey": ReasonNotFound, "NotFound": ReasonNotFound, "NoSuchBucket": ReasonNoSuchBucket,
	"AccessDenied": ReasonAccessDenied, "AllAccessDisabled": ReasonAccessDenied,
	"InvalidAccessKeyId": ReasonAccessDenied, "SignatureDoesNotMatch": ReasonAccessDenied,
	"KMS.AccessDeniedException": ReasonAccessDenied,
	"InvalidObjectState":        ReasonArchived,
}

// classify maps an S3 SDK, network or file-system error to a Reason: the
// S3 error code first, then the HTTP status, then the network error.
func Classify(err error) Reason {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if r, ok := s3Codes[apiErr.ErrorCode()]; ok {
			return r
		}
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) {
		if r, ok := reasonOfStatus(status.HTTPStatusCode()); ok {
			return r
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return ReasonCanceled
	case errors.Is(err, fs.ErrNotExist):
		return ReasonNotFound
	case errors.Is(err, fs.ErrPermission):
		return ReasonAccessDenied
	case isConnectionError(err):
		return ReasonTransport
	}
	return ReasonOther
}

func reasonOfStatus(code int) (Reason, bool) {
	switch {
	case code == 503 || code == 429:
		return ReasonThrottled, true
	case code >= 500:
		return ReasonServer, true
	case code == 404:
		return ReasonNotFound, true
	case code == 403:
		return ReasonAccessDenied, true
	}
	return "", false
}

// isConnectionError recognises a connection that broke or timed out. It
// matches *net.OpError and named errnos rather than the net.Error
// interface, which every syscall.Errno (ENOENT included) implements.
func isConnectionError(err error) bool {
	var opErr *net.OpError
	var timeout interface{ Timeout() bool }
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &opErr) || (errors.As(err, &timeout) && timeout.Timeout())
}
