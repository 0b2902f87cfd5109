package cloudtrail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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
	// APITimeout bounds a GetObject until its response headers arrive
	// (then StallTimeout watches the body); 0: no bound. The input's
	// api_timeout.
	APITimeout time.Duration
	// StallTimeout abandons a body that delivers no byte for this long
	// (ErrStalled, retryable); 0: never. The input's stall_timeout.
	StallTimeout time.Duration
	// Hash sets Result.SHA256, the hash of the uncompressed content that
	// CloudTrail's digest files list (integrity validation). The content
	// is in memory already, so it costs one pass over it (SHA-NI on
	// current x86 and Arm CPUs), not a second read.
	Hash bool
}

// Result is what one object held.
type Result struct {
	Bucket string // "" for local files
	Key    string
	// Events are the raw JSON bytes of the kept events, in file order; each
	// is a JSON object (starts with '{'). They are slices of the object's
	// uncompressed buffer: keeping any of them keeps the whole buffer, so
	// copy them (as record.AppendTextRecord does) rather than hold them.
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
	// SHA256 is the hash of the uncompressed content (ReadOptions.Hash).
	SHA256 [32]byte

	buf *[]byte // the uncompressed content, from objectBuffers
}

// Release hands the result's buffer back for the next object: Events,
// NotObjects and their Raw slices must not be used afterwards. A caller
// that copies the events out (as the input does, into records) calls it;
// one that does not simply leaves the buffer to the garbage collector.
func (r *Result) Release() {
	if r == nil || r.buf == nil {
		return
	}
	putBuffer(r.buf)
	r.buf, r.Events, r.NotObjects = nil, nil, nil
}

// objectBuffers are the uncompressed buffers of read objects, reused
// through Result.Release: a buffer per object was half the bytes the S3
// input allocated on small objects (test/bench/s3, small-objects mode),
// and the garbage collector's work follows that.
var objectBuffers sync.Pool

// maxPooledBuffer: a larger buffer (a rare huge log file) is left to the
// garbage collector rather than kept for objects that never need it.
const maxPooledBuffer = 8 << 20

func getBuffer(capacity int) *[]byte {
	if b, ok := objectBuffers.Get().(*[]byte); ok {
		if cap(*b) >= capacity {
			*b = (*b)[:0]
			return b
		}
		objectBuffers.Put(b)
	}
	b := make([]byte, 0, capacity)
	return &b
}

func putBuffer(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		objectBuffers.Put(b)
	}
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
	maxSize      int64
	match        sourceMatcher
	apiTimeout   time.Duration
	stallTimeout time.Duration
	hash         bool
}

// NewObjectReader returns a reader with the options' defaults applied.
func NewObjectReader(opts ReadOptions) *ObjectReader {
	r := &ObjectReader{maxSize: opts.MaxObjectSize, match: newSourceMatcher(opts.EventSources),
		apiTimeout: opts.APITimeout, stallTimeout: opts.StallTimeout, hash: opts.Hash}
	if r.maxSize <= 0 {
		r.maxSize = DefaultMaxObjectSize
	}
	return r
}

// Get reads one S3 object. Errors are *ObjectError naming the object.
// The request is bounded by APITimeout until its headers arrive, then its
// body by StallTimeout (see ReadOptions).
func (r *ObjectReader) Get(ctx context.Context, client s3Getter, bucket, key string) (*Result, error) {
	var res *Result
	err := r.get(ctx, client, bucket, key, func(out *s3.GetObjectOutput, body io.Reader) (err error) {
		res, err = r.readChecked(body, aws.ToInt64(out.ContentLength))
		return err
	})
	return locate(res, err, bucket, key)
}

// Content reads one S3 object whole and uncompressed, without splitting
// it, and returns its user metadata (x-amz-meta-*) too: for files that are
// not log files (digests) and for hashing a log file as stored. Deadlines,
// size limit and errors are Get's.
func (r *ObjectReader) Content(ctx context.Context, client s3Getter, bucket, key string) ([]byte, map[string]string, error) {
	var data []byte
	var meta map[string]string
	err := r.get(ctx, client, bucket, key, func(out *s3.GetObjectOutput, body io.Reader) (err error) {
		meta = out.Metadata
		data, err = r.content(body, aws.ToInt64(out.ContentLength))
		return err
	})
	return data, meta, locateErr(err, bucket, key)
}

// get sends a GetObject and hands its body, watched for stalls, to read.
func (r *ObjectReader) get(ctx context.Context, client s3Getter, bucket, key string, read func(*s3.GetObjectOutput, io.Reader) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out, err := r.getHeaders(ctx, cancel, client, bucket, key)
	if err != nil {
		return err
	}
	defer out.Body.Close()
	var body io.Reader = out.Body
	if r.stallTimeout > 0 {
		g := guardStall(out.Body, r.stallTimeout, cancel)
		defer g.stop()
		body = g
	}
	return read(out, body)
}

// getHeaders sends the GetObject; cancel aborts it when the api_timeout
// passes first.
func (r *ObjectReader) getHeaders(ctx context.Context, cancel func(), client s3Getter, bucket, key string) (*s3.GetObjectOutput, error) {
	var late atomic.Bool
	if r.apiTimeout > 0 {
		t := time.AfterFunc(r.apiTimeout, func() { late.Store(true); cancel() })
		defer t.Stop()
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, getError(bucket, key, err, late.Load(), r.apiTimeout)
	}
	return out, nil
}

// getError is a failed GetObject; late: it was canceled by the api_timeout.
func getError(bucket, key string, err error, late bool, timeout time.Duration) error {
	if late {
		return &ObjectError{Bucket: bucket, Key: key, Reason: ReasonTimeout, Offset: -1,
			Detail: fmt.Sprintf("no response within %s (api_timeout)", timeout), Err: err}
	}
	return &ObjectError{Bucket: bucket, Key: key, Reason: Classify(err), Offset: -1, Err: err}
}

// ReadFile reads one file of a local tree.
func (r *ObjectReader) ReadFile(fsys fs.FS, name string) (*Result, error) {
	var res *Result
	err := openFile(fsys, name, func(f io.Reader, size int64) (err error) {
		res, err = r.readChecked(f, size)
		return err
	})
	return locate(res, err, "", name)
}

// FileContent is Content for a file of a local tree (which has no
// metadata).
func (r *ObjectReader) FileContent(fsys fs.FS, name string) ([]byte, error) {
	var data []byte
	err := openFile(fsys, name, func(f io.Reader, size int64) (err error) {
		data, err = r.content(f, size)
		return err
	})
	return data, locateErr(err, "", name)
}

func openFile(fsys fs.FS, name string, read func(io.Reader, int64) error) error {
	f, err := fsys.Open(name)
	if err != nil {
		return &ObjectError{Reason: Classify(err), Offset: -1, Err: err}
	}
	defer f.Close()
	var size int64
	if info, err := f.Stat(); err == nil {
		size = info.Size()
	}
	return read(f, size)
}

// Decode reads a log file from src; size is its stored size if known
// (0 otherwise). Errors are *ObjectError without a location.
func (r *ObjectReader) Decode(src io.Reader, size int64) (*Result, error) {
	return r.readChecked(src, size)
}

// locate fills in where a result or error came from.
func locate(res *Result, err error, bucket, key string) (*Result, error) {
	if err != nil {
		return nil, locateErr(err, bucket, key)
	}
	res.Bucket, res.Key = bucket, key
	return res, nil
}

// locateErr names the object in an *ObjectError.
func locateErr(err error, bucket, key string) error {
	var oe *ObjectError
	if errors.As(err, &oe) {
		oe.Bucket, oe.Key = bucket, key
	}
	return err
}

// readChecked rejects oversized objects before reading them, then reads.
func (r *ObjectReader) readChecked(src io.Reader, size int64) (*Result, error) {
	if err := r.checkSize(size); err != nil {
		return nil, err
	}
	return r.read(src, size)
}

func (r *ObjectReader) checkSize(size int64) error {
	if size > r.maxSize {
		return &ObjectError{Reason: ReasonOversized, Offset: -1,
			Detail: fmt.Sprintf("%d bytes stored, more than the %d-byte limit", size, r.maxSize)}
	}
	return nil
}

// content is the uncompressed bytes of an object, unsplit.
func (r *ObjectReader) content(src io.Reader, size int64) ([]byte, error) {
	if err := r.checkSize(size); err != nil {
		return nil, err
	}
	data, _, err := r.load(&countingReader{r: src}, size, nil)
	return data, err
}

// read decompresses (when the gzip magic is there), bounds the size and
// splits the Records array, keeping the events the push-down selects.
func (r *ObjectReader) read(src io.Reader, size int64) (*Result, error) {
	body := &countingReader{r: src}
	buf := getBuffer(4 << 10)
	data, gz, err := r.load(body, size, buf)
	if err != nil {
		putBuffer(buf)
		return nil, err
	}
	*buf = data // the buffer may have grown
	res := &Result{Size: int64(len(data)), Stored: body.n, Compressed: gz, buf: buf}
	if r.hash {
		res.SHA256 = sha256.Sum256(data)
	}
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
		res.Release()
		return nil, documentError(err)
	}
	res.Kept = len(res.Events)
	return res, nil
}

// load returns the uncompressed bytes of the object, in buf when it is
// given (and large enough, else in a new buffer).
func (r *ObjectReader) load(body *countingReader, size int64, buf *[]byte) (data []byte, gz bool, err error) {
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
	var into []byte
	if want := initialCapacity(size, gz); buf != nil && cap(*buf) >= want {
		into = (*buf)[:0]
	} else {
		into = make([]byte, 0, want)
	}
	data, err = readBounded(content, r.maxSize, into)
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

// readBounded reads to EOF into buf (appending, growing it as needed) but
// at most limit+1 bytes, so the caller can tell "exactly the limit" from
// "over it" without reading a bomb to its end.
func readBounded(r io.Reader, limit int64, buf []byte) ([]byte, error) {
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
	if errors.Is(err, ErrStalled) {
		return &ObjectError{Reason: ReasonTimeout, Offset: -1, Detail: "stalled: " + detail, Err: err}
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
