package s3test

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fault is a failure the proxy plays instead of (or in the middle of)
// forwarding a request.
type Fault int

// Faults, each as S3 produces it.
const (
	// SlowDown is S3's throttling answer: 503 with code SlowDown.
	SlowDown Fault = iota + 1
	// InternalError is a 500 with code InternalError.
	InternalError
	// ConnectionResetBeforeResponse reads the request, then resets the
	// connection (TCP RST) without a byte of response.
	ConnectionResetBeforeResponse
	// ResetMidBody forwards the request, sends the real status, headers
	// (with the full Content-Length) and half the body, then closes the
	// connection. It closes rather than resets: a RST can make the kernel
	// drop data the client has not read yet, headers included, which would
	// turn this into ConnectionResetBeforeResponse at random. The client
	// sees the body end early (io.ErrUnexpectedEOF), as on a real drop.
	// A HEAD request, having no body, is reset instead.
	ResetMidBody
	// AccessDenied is a 403 with code AccessDenied.
	AccessDenied
	// InvalidObjectState is a 403 with code InvalidObjectState: what S3
	// answers a GetObject of a GLACIER or DEEP_ARCHIVE object not restored.
	InvalidObjectState
	// StallMidBody sends the real status, headers and half the body, then
	// sends nothing more until the client gives up (or StallLimit passes):
	// a connection that stays open but stops delivering.
	StallMidBody
	// NoResponse reads the request and answers nothing until the client
	// gives up (or StallLimit passes): a call that hangs.
	NoResponse
)

// StallLimit bounds how long StallMidBody and NoResponse hold a request
// whose client never gives up, so a test cannot hang on them.
const StallLimit = 30 * time.Second

var faultNames = map[Fault]string{
	SlowDown: "SlowDown", InternalError: "InternalError", ConnectionResetBeforeResponse: "ConnectionResetBeforeResponse",
	ResetMidBody: "ResetMidBody", AccessDenied: "AccessDenied", InvalidObjectState: "InvalidObjectState",
	StallMidBody: "StallMidBody", NoResponse: "NoResponse",
}

func (f Fault) String() string {
	if n, ok := faultNames[f]; ok {
		return n
	}
	if f == 0 {
		return "none"
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// s3Errors are the status, code and message of the faults that are plain S3
// error responses. Messages are S3's own.
var s3Errors = map[Fault]struct {
	status        int
	code, message string
}{
	SlowDown:           {http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate."},
	InternalError:      {http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again."},
	AccessDenied:       {http.StatusForbidden, "AccessDenied", "Access Denied"},
	InvalidObjectState: {http.StatusForbidden, "InvalidObjectState", "The operation is not valid for the object's storage class"},
}

// Rule says which requests fail and how.
type Rule struct {
	Method string // HTTP method ("GET", "PUT", …); "" matches any
	// KeyRegexp is matched against the object key: URL-decoded, without the
	// bucket. Bucket-level requests (ListObjectsV2, CreateBucket) have key
	// "", so "^$" matches only those; "" matches every request.
	KeyRegexp string
	// Times is how many matching requests fail before the rule is spent;
	// <= 0 means all of them.
	Times int
	Fault Fault
}

type activeRule struct {
	Rule
	re   *regexp.Regexp
	used int
}

// Request is one request the proxy saw.
type Request struct {
	Method string
	Bucket string
	Key    string // URL-decoded; "" for bucket-level requests
	Query  string // raw query (list-type=2&prefix=…)
	Fault  Fault  // 0 when forwarded untouched
}

// FaultProxy is an HTTP reverse proxy on 127.0.0.1 in front of an S3
// endpoint, failing requests by rule. It keeps the client's Host header, so
// SigV4 signatures made for the proxy's address verify upstream (MinIO
// checks them). Only path-style requests (/BUCKET/KEY) are understood.
//
// A reset on a reused keep-alive connection may never reach the SDK: Go's
// HTTP transport replays an idempotent request once by itself when a reused
// connection fails before the response (net/http's shouldRetryRequest).
// Count then shows two requests for one SDK attempt; use Times ≥ 2, or a
// fresh client, to see the reset surface.
type FaultProxy struct {
	URL string // http://127.0.0.1:PORT, the endpoint to give clients

	server *httptest.Server
	proxy  *httputil.ReverseProxy

	mu       sync.Mutex
	rules    []*activeRule
	requests []Request
}

// NewFaultProxy starts a proxy in front of upstream (an endpoint URL such as
// Server.Endpoint) with the given rules; it stops when the test ends.
func NewFaultProxy(t testing.TB, upstream string, rules ...Rule) *FaultProxy {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil || target.Scheme == "" || target.Host == "" {
		t.Fatalf("s3test: upstream %q is not an endpoint URL", upstream)
	}
	p := &FaultProxy{}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the signature covers Host
		},
		Transport: transport,
		// Aborted client connections are expected here; do not log them.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	if err := p.add(rules); err != nil {
		t.Fatal(err)
	}
	p.server = httptest.NewServer(p)
	p.URL = p.server.URL
	t.Cleanup(func() {
		p.server.Close()
		transport.CloseIdleConnections()
	})
	return p
}

// Add appends rules; they apply from the next request on. Earlier rules are
// tried first, and the first unspent match decides. It panics on an
// invalid KeyRegexp (a bug in the test).
func (p *FaultProxy) Add(rules ...Rule) {
	if err := p.add(rules); err != nil {
		panic(err)
	}
}

func (p *FaultProxy) add(rules []Rule) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range rules {
		re, err := regexp.Compile(r.KeyRegexp)
		if err != nil {
			return fmt.Errorf("s3test: rule KeyRegexp %q: %w", r.KeyRegexp, err)
		}
		p.rules = append(p.rules, &activeRule{Rule: r, re: re})
	}
	return nil
}

// ClearRules removes every rule (requests are kept).
func (p *FaultProxy) ClearRules() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// Requests returns the requests seen so far, in arrival order.
func (p *FaultProxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// Count is how many requests with method (any if "") for exactly key
// reached the proxy, faulted or not.
func (p *FaultProxy) Count(method, key string) int {
	return p.count(func(r Request) bool { return (method == "" || r.Method == method) && r.Key == key })
}

// Injected is how many faults were played for method (any if "") and key.
func (p *FaultProxy) Injected(method, key string) int {
	return p.count(func(r Request) bool {
		return r.Fault != 0 && (method == "" || r.Method == method) && r.Key == key
	})
}

func (p *FaultProxy) count(match func(Request) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.requests {
		if match(r) {
			n++
		}
	}
	return n
}

// ServeHTTP records the request and forwards it or plays its fault.
func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, key := splitPath(r.URL.Path)
	fault := p.decide(Request{Method: r.Method, Bucket: bucket, Key: key, Query: r.URL.RawQuery})
	switch fault {
	case 0:
		p.proxy.ServeHTTP(w, r)
	case ConnectionResetBeforeResponse:
		resetConnection(w, r)
	case ResetMidBody:
		if r.Method == http.MethodHead {
			resetConnection(w, r) // no body to cut
			return
		}
		p.cutMidBody(w, r)
	case StallMidBody:
		p.stallMidBody(w, r)
	case NoResponse:
		hold(r)
	default:
		writeS3Error(w, r, fault, bucket, key)
	}
}

// decide picks the fault for a request and records both.
func (p *FaultProxy) decide(req Request) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, rule := range p.rules {
		if (rule.Method == "" || rule.Method == req.Method) && rule.re.MatchString(req.Key) &&
			(rule.Times <= 0 || rule.used < rule.Times) {
			rule.used++
			req.Fault = rule.Fault
			break
		}
	}
	p.requests = append(p.requests, req)
	return req.Fault
}

// splitPath turns a path-style URL path (already URL-decoded by net/http)
// into bucket and key.
func splitPath(path string) (bucket, key string) {
	bucket, key, _ = strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return bucket, key
}

// writeS3Error answers with S3's REST error document. HEAD responses carry
// no body, as with S3 (the SDK then goes by the status alone).
func writeS3Error(w http.ResponseWriter, r *http.Request, f Fault, bucket, key string) {
	e := s3Errors[f]
	io.Copy(io.Discard, r.Body) // let the client finish sending an upload first
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-amz-request-id", "S3TESTFAULT0001")
	w.WriteHeader(e.status)
	if r.Method == http.MethodHead {
		return
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>%s</Message><Resource>/%s/%s</Resource><RequestId>S3TESTFAULT0001</RequestId><HostId>s3test</HostId></Error>`,
		e.code, e.message, bucket, key)
}

// resetConnection reads the whole request, then closes the connection with
// SO_LINGER 0, which sends a RST instead of a FIN.
func resetConnection(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // cannot happen on httptest's HTTP/1.1 server
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

// cutMidBody forwards the request, then sends the upstream status and
// headers with half of the body and closes the connection.
func (p *FaultProxy) cutMidBody(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	p.proxy.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body))) // promise it all
	w.WriteHeader(rec.Code)
	w.Write(body[:len(body)/2])
	rc := http.NewResponseController(w)
	rc.Flush() // the headers and the half must be on the wire before the close
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// stallMidBody forwards the request, sends the upstream status, headers
// and half of the body, then holds the connection open without a byte more.
func (p *FaultProxy) stallMidBody(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	p.proxy.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	w.Write(body[:len(body)/2])
	http.NewResponseController(w).Flush()
	hold(r)
}

// hold waits until the client goes away or StallLimit passes.
func hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(StallLimit):
	}
}
