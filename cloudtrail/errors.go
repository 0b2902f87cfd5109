package cloudtrail

// Every failure of the library and the input is classified here, once:
// a Reason says what went wrong and whether a retry can help
// (Reason.Retryable); Classify and SQSErrorReason map AWS SDK, network and
// file-system errors onto Reasons; Backoff is the retry delay everything
// shares.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/aws/smithy-go"
)

// Reason says why an object could not be read.
type Reason string

// Reasons. Only ReasonTransport, ReasonThrottled, ReasonServer and
// ReasonTimeout are retryable: everything else will fail the same way next
// time.
const (
	ReasonTransport       Reason = "connection failed" // reset, EOF mid-body, timeout: retryable
	ReasonThrottled       Reason = "throttled"         // SlowDown, 503, 429: retryable
	ReasonServer          Reason = "server error"      // other 5xx: retryable
	ReasonTimeout         Reason = "timed out"         // api_timeout or stall_timeout passed: retryable
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
	// ReasonCertificate: the server's TLS certificate is not trusted (a
	// private CA: AWS_CA_BUNDLE) or does not name it. Configuration, not
	// weather: never retried.
	ReasonCertificate Reason = "TLS certificate not trusted"
)

// Retryable reports whether trying again later can succeed.
func (r Reason) Retryable() bool {
	return r == ReasonTransport || r == ReasonThrottled || r == ReasonServer || r == ReasonTimeout
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

// Classify maps an S3 SDK, network or file-system error to a Reason: the
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
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout // a deadline of ours (api_timeout): the caller's own ends in Canceled
	case IsCertificateError(err):
		return ReasonCertificate
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

// IsCertificateError reports a TLS certificate the client does not accept:
// an unknown authority, another host's name, an expired or invalid one.
func IsCertificateError(err error) bool {
	var verify *tls.CertificateVerificationError
	var authority x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verify) || errors.As(err, &authority) || errors.As(err, &host) || errors.As(err, &invalid)
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
		errors.Is(err, syscall.ETIMEDOUT) || // context.DeadlineExceeded: ReasonTimeout, in Classify
		errors.As(err, &opErr) || (errors.As(err, &timeout) && timeout.Timeout())
}

// ReasonOf is an error's Reason: an *ObjectError's own, else Classify's.
func ReasonOf(err error) Reason {
	var oe *ObjectError
	if errors.As(err, &oe) {
		return oe.Reason
	}
	return Classify(err)
}

// ProblemText is an object error without its location (the record has it).
func ProblemText(err error) string {
	var oe *ObjectError
	if !errors.As(err, &oe) {
		return err.Error()
	}
	msg := string(oe.Reason)
	if oe.Offset >= 0 {
		msg += fmt.Sprintf(" at byte %d", oe.Offset)
	}
	if oe.Detail != "" {
		msg += ": " + oe.Detail
	}
	if oe.Err != nil {
		msg += ": " + oe.Err.Error()
	}
	return msg
}

// SQS error codes, in both protocols (query and JSON).
var (
	sqsNoQueueCodes = map[string]bool{"AWS.SimpleQueueService.NonExistentQueue": true, "QueueDoesNotExist": true}
	sqsDeniedCodes  = map[string]bool{"AccessDenied": true, "AccessDeniedException": true, "KMS.AccessDeniedException": true,
		"InvalidClientTokenId": true, "UnrecognizedClientException": true, "InvalidSecurity": true}
)

func sqsErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// SQSErrorReason classifies an SQS error like an S3 one: retryable
// (throttled, 5xx, broken connection) or not.
func SQSErrorReason(err error) Reason {
	code := sqsErrorCode(err)
	switch {
	case sqsNoQueueCodes[code]:
		return ReasonNotFound
	case sqsDeniedCodes[code]:
		return ReasonAccessDenied
	}
	return Classify(err)
}

// Backoff is base·2^attempt capped at limit, then a random point in
// its upper half.
func Backoff(base, limit time.Duration, attempt int) time.Duration {
	d := limit
	if attempt < 30 && base<<attempt < limit {
		d = base << attempt
	}
	return d/2 + rand.N(d/2+1)
}

// Sleep waits d or until ctx ends, whichever is first; it returns ctx's
// error in the second case.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
