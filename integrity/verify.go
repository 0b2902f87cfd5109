package integrity

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
)

// Statuses, exactly as they appear in the CLI's output and in records.
const (
	StatusValid           = "valid"            // the file's hash matches a digest whose signature and chain check out
	StatusLogMissing      = "log_missing"      // named by a digest, absent
	StatusLogModified     = "log_modified"     // its SHA-256 differs from the digest's
	StatusLogUnreferenced = "log_unreferenced" // delivered inside a verified digest's period, named by no digest
	StatusLogUnverified   = "log_unverified"   // no checked digest vouches for it
	StatusDigestMissing   = "digest_missing"   // named as previous by the next digest, absent
	StatusDigestInvalid   = "digest_invalid"   // signature, hash chain, format or location fails
	StatusDigestUnsigned  = "digest_unsigned"  // no signature available (a local copy's newest digest)
	StatusChainGap        = "chain_gap"        // the chain restarts: validation or the trail was off for a while
)

// Tampered reports whether a status means the archive was changed: the
// statuses that make `verify` exit 2.
func Tampered(status string) bool {
	switch status {
	case StatusLogMissing, StatusLogModified, StatusLogUnreferenced, StatusDigestMissing, StatusDigestInvalid:
		return true
	}
	return false
}

// Finding is the verdict on one file (or, for chain_gap, one period).
type Finding struct {
	Status    string     `json:"status"`
	Key       string     `json:"key"`
	Bucket    string     `json:"bucket,omitempty"`
	Detail    string     `json:"detail"`
	DigestKey string     `json:"digest_key,omitempty"` // the digest that names the file, or names the missing digest
	Delivered *time.Time `json:"delivered,omitempty"`  // the file's delivery time, from its name
	Start     *time.Time `json:"start,omitempty"`      // chain_gap: the period without digests
	End       *time.Time `json:"end,omitempty"`
}

// DigestLag is how far past the log window digests must be read: a log
// file delivered at the window's end is named by the next hour's digest.
const DigestLag = time.Hour

// Options configure a Verifier.
type Options struct {
	// Keys verify the digests' signatures, matched by fingerprint.
	Keys PublicKeys
	// Start and End are the window of log files handed over (delivery
	// time, [Start, End); zero: unbounded). Digests are expected from Start
	// to End+DigestLag. Files a digest names outside the window were not
	// read, and are not missing.
	Start, End time.Time
}

// LogFile is a log file that was read: its SHA-256 is over the uncompressed
// content.
type LogFile struct {
	Bucket string // "" for a local copy
	Key    string
	SHA256 [32]byte
}

// DigestFile is a digest that was read.
type DigestFile struct {
	Bucket string // "" for a local copy
	Key    string
	Data   []byte // uncompressed
	// Signature is the object's x-amz-meta-signature (hex); "" when the
	// copy has no metadata (aws s3 sync drops it).
	Signature string
}

type streamID struct{ org, account, region string }

type logEntry struct {
	LogFile
	delivered time.Time
}

// Verifier collects a window's log file hashes and digests and judges them
// per stream (organization, account, region). Not safe for concurrent use.
type Verifier struct {
	opts       Options
	logs       map[streamID]map[string]*logEntry // by logTail
	digests    map[streamID][]*digestState
	unreadable map[string]bool // by logTail: present, but could not be read
}

// NewVerifier returns an empty verifier.
func NewVerifier(opts Options) *Verifier {
	return &Verifier{opts: opts, logs: map[streamID]map[string]*logEntry{}, digests: map[streamID][]*digestState{},
		unreadable: map[string]bool{}}
}

func streamOf(k cloudtrail.Key) streamID { return streamID{k.OrgID, k.Account, k.Region} }

// AddLog records a log file; its key must be in the CloudTrail layout.
func (v *Verifier) AddLog(f LogFile) error {
	k, ok := cloudtrail.ParseKey(f.Key)
	if !ok || k.Kind != cloudtrail.KindLog {
		return fmt.Errorf("%s: not a CloudTrail log file key (AWSLogs/…/CloudTrail/REGION/YYYY/MM/DD/…)", f.Key)
	}
	id := streamOf(k)
	if v.logs[id] == nil {
		v.logs[id] = map[string]*logEntry{}
	}
	tail := logTail(f.Key)
	if old, dup := v.logs[id][tail]; dup && old.Key != f.Key {
		// Two copies of one file (an archive copied twice into a tree):
		// judging either alone could hide a change in the other.
		return fmt.Errorf("%s and %s are copies of the same CloudTrail log file: verify one copy of an archive at a time", old.Key, f.Key)
	}
	v.logs[id][tail] = &logEntry{LogFile: f, delivered: k.Time}
	return nil
}

// AddDigest records a digest file; its key must be in the CloudTrail layout.
// The digest is parsed at once and only what the checks need is kept (not
// its bytes): a window of years holds tens of thousands of digests.
func (v *Verifier) AddDigest(f DigestFile) error {
	k, ok := cloudtrail.ParseKey(f.Key)
	if !ok || k.Kind != cloudtrail.KindDigest {
		return fmt.Errorf("%s: not a CloudTrail digest key (AWSLogs/…/CloudTrail-Digest/REGION/YYYY/MM/DD/…)", f.Key)
	}
	s := &digestState{bucket: f.Bucket, objectKey: f.Key, key: k, sum: sha256.Sum256(f.Data), signature: f.Signature,
		metaSignature: f.Signature}
	d, err := ParseDigest(f.Data)
	if err != nil {
		s.invalid = err.Error()
	} else {
		s.d = d
		s.logs = make([]logRef, len(d.LogFiles))
		for i, l := range d.LogFiles {
			s.logs[i] = logRef{bucket: l.S3Bucket, object: l.S3Object}
			if _, err := hex.Decode(s.logs[i].hash[:], []byte(l.HashValue)); err != nil {
				s.invalid, s.d = fmt.Sprintf("logFiles[%d].hashValue: not hex", i), nil
				break
			}
		}
		if s.d != nil {
			s.d.LogFiles = nil
		}
	}
	v.digests[streamOf(k)] = append(v.digests[streamOf(k)], s)
	return nil
}

// AddUnreadable records a file that exists but could not be read: it is
// neither judged nor reported missing (the caller reports the error, and
// the verification is incomplete).
func (v *Verifier) AddUnreadable(key string) { v.unreadable[logTail(key)] = true }

// Finish judges everything added and calls emit once per finding, stream by
// stream (sorted), each chain in time order, then the stream's unnamed
// log files. The verifier is empty afterwards.
func (v *Verifier) Finish(emit func(Finding)) {
	v.finish(func(streamID) bool { return true }, emit)
}

// FinishAccount judges and forgets the streams of one account (of one
// organization, "" for none) once everything of it was added: a caller
// that lists account by account keeps only one account in memory.
func (v *Verifier) FinishAccount(org, account string, emit func(Finding)) {
	v.finish(func(id streamID) bool { return id.org == org && id.account == account }, emit)
}

func (v *Verifier) finish(want func(streamID) bool, emit func(Finding)) {
	ids := map[streamID]bool{}
	for id := range v.logs {
		ids[id] = want(id)
	}
	for id := range v.digests {
		ids[id] = want(id)
	}
	for id, ok := range ids {
		if !ok {
			delete(ids, id)
		}
	}
	sorted := make([]streamID, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	slices.SortFunc(sorted, func(a, b streamID) int {
		return cmp.Or(cmp.Compare(a.org, b.org), cmp.Compare(a.account, b.account), cmp.Compare(a.region, b.region))
	})
	for _, id := range sorted {
		v.finishStream(v.logs[id], v.digests[id], emit)
		delete(v.logs, id)
		delete(v.digests, id)
	}
}

// digestState is one digest being judged.
type digestState struct {
	bucket, objectKey string // where it was read
	key               cloudtrail.Key
	d                 *Digest // nil when it does not parse; LogFiles moved to logs
	logs              []logRef
	sum               [32]byte
	metaSignature     string // from the object's metadata
	signature         string // the metadata's, else the successor's previousDigestSignature
	invalid           string // why it is digest_invalid
	unsigned          bool
}

// logRef is a digest's entry for one log file.
type logRef struct {
	bucket, object string
	hash           [32]byte
}

func (s *digestState) vouches() bool { return s.d != nil && s.invalid == "" && !s.unsigned }

type period struct{ start, end time.Time }

func (v *Verifier) logListed(t time.Time) bool {
	return (v.opts.Start.IsZero() || !t.Before(v.opts.Start)) && (v.opts.End.IsZero() || t.Before(v.opts.End))
}

func (v *Verifier) digestListed(t time.Time) bool {
	return (v.opts.Start.IsZero() || !t.Before(v.opts.Start)) && (v.opts.End.IsZero() || t.Before(v.opts.End.Add(DigestLag)))
}

func (v *Verifier) finishStream(logs map[string]*logEntry, digests []*digestState, emit func(Finding)) {
	chains := map[string][]*digestState{}
	for _, s := range digests {
		chains[s.key.Trail] = append(chains[s.key.Trail], s)
	}
	trails := make([]string, 0, len(chains))
	for t := range chains {
		trails = append(trails, t)
	}
	slices.Sort(trails)
	named := map[string]*Finding{} // nil: named by a verified digest (judged); else the verdict of an unverified one
	var vouched []period
	for _, t := range trails {
		vouched = v.judgeChain(chains[t], logs, named, vouched, emit)
	}
	v.unnamedLogs(logs, named, vouched, emit)
}

// judgeChain checks one trail's digests of one stream and the log files
// they name; it returns vouched extended by the periods of the digests
// that check out.
func (v *Verifier) judgeChain(chain []*digestState, logs map[string]*logEntry, named map[string]*Finding, vouched []period, emit func(Finding)) []period {
	slices.SortFunc(chain, func(a, b *digestState) int {
		return cmp.Or(a.key.Time.Compare(b.key.Time), cmp.Compare(a.objectKey, b.objectKey))
	})
	byTail := map[string]*digestState{}
	for _, s := range chain {
		byTail[logTail(s.objectKey)] = s
		if d := s.d; d != nil && (logTail(d.DigestS3Object) != logTail(s.objectKey) ||
			(s.bucket != "" && (d.DigestS3Bucket != s.bucket || d.DigestS3Object != s.objectKey))) {
			s.invalid = fmt.Sprintf("moved: the digest names itself %s/%s", d.DigestS3Bucket, d.DigestS3Object)
		}
	}
	// A copy without metadata: a digest's signature is in its successor.
	for _, s := range chain {
		if s.d == nil || !s.d.hasPrevious() || s.d.PreviousDigestSignature == nil {
			continue
		}
		if p := byTail[logTail(*s.d.PreviousDigestS3Object)]; p != nil && p.signature == "" {
			p.signature = *s.d.PreviousDigestSignature
		}
	}
	for _, s := range chain {
		if s.d == nil || s.invalid != "" {
			continue
		}
		if s.signature == "" {
			s.unsigned = true
			continue
		}
		pub := v.opts.Keys[strings.ToLower(s.d.DigestPublicKeyFingerprint)]
		if pub == nil {
			s.invalid = fmt.Sprintf("signed with public key %s, which is not among the %d keys given", s.d.DigestPublicKeyFingerprint, len(v.opts.Keys))
			continue
		}
		if err := checkSignature(pub, StringToSign(s.d, s.sum), s.signature); err != nil {
			s.invalid = err.Error()
		}
	}
	// The chain: each digest names its predecessor and that one's hash and
	// signature; a digest that names none starts a chain again.
	for i, s := range chain {
		if s.d == nil {
			continue
		}
		if !s.d.hasPrevious() {
			if i > 0 {
				prev := chain[i-1]
				start := prev.key.Time
				if prev.d != nil {
					start = prev.d.End()
				}
				end := s.d.Start()
				emit(Finding{Status: StatusChainGap, Key: s.objectKey, Bucket: s.bucket, Start: &start, End: &end,
					Detail: fmt.Sprintf("the digest chain restarts: no digests from %s to %s (log file validation or the trail was off)", start.Format(time.RFC3339), end.Format(time.RFC3339))})
			}
			continue
		}
		prevKey := *s.d.PreviousDigestS3Object
		p := byTail[logTail(prevKey)]
		if p == nil && v.unreadable[logTail(prevKey)] {
			continue
		}
		if p == nil && elsewhere(s.d) {
			// The trail's bucket or prefix changed: its earlier digests
			// are not in this source. The chain is intact as far as it can
			// be followed here.
			bucket := *s.d.PreviousDigestS3Bucket
			start, end := s.d.Start(), s.d.Start()
			emit(Finding{Status: StatusChainGap, Key: s.objectKey, Bucket: s.bucket, Start: &start, End: &end,
				Detail: fmt.Sprintf("the previous digest is s3://%s/%s, outside this source (the trail's bucket or prefix changed): verify that source too", bucket, prevKey)})
			continue
		}
		if p == nil {
			if pk, ok := cloudtrail.ParseKey(logTail(prevKey)); ok && v.digestListed(pk.Time) {
				bucket := ""
				if s.d.PreviousDigestS3Bucket != nil {
					bucket = *s.d.PreviousDigestS3Bucket
				}
				emit(Finding{Status: StatusDigestMissing, Key: prevKey, Bucket: bucket, DigestKey: s.objectKey,
					Detail: "named as previous digest by " + s.objectKey + ", absent"})
			}
			continue
		}
		if s.d.PreviousDigestHashValue == nil || !strings.EqualFold(*s.d.PreviousDigestHashValue, hex.EncodeToString(p.sum[:])) {
			s.invalid = cmp.Or(s.invalid, "previousDigestHashValue does not match "+p.objectKey)
		}
		if p.metaSignature != "" && s.d.PreviousDigestSignature != nil && *s.d.PreviousDigestSignature != p.metaSignature {
			s.invalid = cmp.Or(s.invalid, "previousDigestSignature differs from the signature of "+p.objectKey)
		}
	}
	for _, s := range chain {
		f := Finding{Key: s.objectKey, Bucket: s.bucket}
		switch {
		case s.invalid != "":
			f.Status, f.Detail = StatusDigestInvalid, s.invalid
		case s.unsigned:
			f.Status, f.Detail = StatusDigestUnsigned, "no signature: the copy has no object metadata and no later digest carries it"
		default:
			f.Status, f.Detail = StatusValid, "signature and chain verified"
		}
		emit(f)
		if s.d == nil {
			continue
		}
		if s.vouches() {
			vouched = append(vouched, period{s.d.Start(), s.d.End()})
		}
		v.namedLogs(s, logs, named, emit)
	}
	return vouched
}

// namedLogs judges the log files one digest lists. A verified digest's
// verdicts are final; an unsigned or invalid digest's wait in named until
// unnamedLogs: a file that only such a digest names, delivered inside a
// period verified digests cover, was slipped in (a forged digest cannot
// vouch for it).
func (v *Verifier) namedLogs(s *digestState, logs map[string]*logEntry, named map[string]*Finding, emit func(Finding)) {
	for _, item := range s.logs {
		tail := logTail(item.object)
		if f, done := named[tail]; done && f == nil {
			continue // a verified digest judged it already
		}
		l := logs[tail]
		if l == nil {
			if s.vouches() {
				named[tail] = nil
			}
			if s.invalid != "" || v.unreadable[tail] {
				continue // an invalid digest's list proves nothing
			}
			if k, ok := cloudtrail.ParseKey(tail); !ok || v.logListed(k.Time) {
				emit(Finding{Status: StatusLogMissing, Key: item.object, Bucket: item.bucket, DigestKey: s.objectKey,
					Detail: "named by digest " + s.objectKey + ", absent"})
			}
			continue
		}
		delivered := l.delivered
		f := Finding{Key: l.Key, Bucket: l.Bucket, DigestKey: s.objectKey, Delivered: &delivered}
		switch {
		case s.invalid != "":
			f.Status, f.Detail = StatusLogUnverified, "its digest is invalid: "+s.invalid
		case item.hash != l.SHA256:
			f.Status, f.Detail = StatusLogModified, fmt.Sprintf("SHA-256 %x, the digest says %x", l.SHA256, item.hash)
		case s.unsigned:
			f.Status, f.Detail = StatusLogUnverified, "matches its digest, which is unsigned"
		default:
			f.Status, f.Detail = StatusValid, "SHA-256 matches a verified digest"
		}
		if s.vouches() {
			named[tail] = nil
			emit(f)
		} else if _, seen := named[tail]; !seen {
			named[tail] = &f
		}
	}
}

// unnamedLogs judges the log files no verified digest names.
func (v *Verifier) unnamedLogs(logs map[string]*logEntry, named map[string]*Finding, vouched []period, emit func(Finding)) {
	var rest []*logEntry
	for tail, l := range logs {
		if f, ok := named[tail]; !ok || f != nil {
			rest = append(rest, l)
		}
	}
	slices.SortFunc(rest, func(a, b *logEntry) int { return cmp.Compare(a.Key, b.Key) })
	spans := mergePeriods(vouched)
	var newest time.Time
	if len(spans) > 0 {
		newest = spans[len(spans)-1].end
	}
	for _, l := range rest {
		delivered := l.delivered
		f := Finding{Key: l.Key, Bucket: l.Bucket, Delivered: &delivered}
		// A name gives the minute of delivery only: the file is inside a
		// span when its whole minute is.
		covered := slices.ContainsFunc(spans, func(p period) bool {
			return !delivered.Before(p.start) && !delivered.Add(time.Minute).After(p.end)
		})
		deferred := named[logTail(l.Key)]
		switch {
		case covered && deferred != nil:
			f.Status, f.Detail, f.DigestKey = StatusLogUnreferenced, "delivered inside a verified digest's period, named by no verified digest, only by "+deferred.DigestKey, deferred.DigestKey
		case covered:
			f.Status, f.Detail = StatusLogUnreferenced, "delivered inside a verified digest's period, named by no digest"
		case deferred != nil:
			f = *deferred
		case newest.IsZero():
			f.Status, f.Detail = StatusLogUnverified, "no verified digest covers its stream"
		case !delivered.Before(newest):
			f.Status, f.Detail = StatusLogUnverified, "delivered after the newest verified digest"
		default:
			f.Status, f.Detail = StatusLogUnverified, "delivered where no verified digest covers the stream (a chain gap, or an unsigned or invalid digest)"
		}
		emit(f)
	}
}

// elsewhere: does d name a previous digest in another bucket or under
// another prefix than its own (the trail's destination changed)?
func elsewhere(d *Digest) bool {
	if d.PreviousDigestS3Bucket == nil || d.PreviousDigestS3Object == nil {
		return false
	}
	prefix := func(k string) string { return strings.TrimSuffix(k, logTail(k)) }
	return *d.PreviousDigestS3Bucket != d.DigestS3Bucket || prefix(*d.PreviousDigestS3Object) != prefix(d.DigestS3Object)
}

// mergePeriods joins the periods of consecutive verified digests into
// spans: a chain's periods follow one another without a gap, and a file
// delivered in the minute where one period ends and the next begins is
// covered either way.
func mergePeriods(ps []period) []period {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b period) int { return a.start.Compare(b.start) })
	var out []period
	for _, p := range ps {
		if n := len(out); n > 0 && !p.start.After(out[n-1].end.Add(time.Minute)) {
			if p.end.After(out[n-1].end) {
				out[n-1].end = p.end
			}
			continue
		}
		out = append(out, p)
	}
	return out
}
