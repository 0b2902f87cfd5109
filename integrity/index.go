package integrity

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
)

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

// newDigestState parses a digest file (k is its parsed key) and keeps only
// what the checks need, not its bytes: a window of years holds tens of
// thousands of digests.
func newDigestState(f DigestFile, k cloudtrail.Key) *digestState {
	s := &digestState{bucket: f.Bucket, objectKey: f.Key, key: k, sum: sha256.Sum256(f.Data), signature: f.Signature,
		metaSignature: f.Signature}
	d, err := ParseDigest(f.Data)
	if err != nil {
		s.invalid = err.Error()
		return s
	}
	s.d = d
	s.logs = make([]logRef, len(d.LogFiles))
	for i, l := range d.LogFiles {
		s.logs[i] = logRef{bucket: l.S3Bucket, object: l.S3Object}
		if _, err := hex.Decode(s.logs[i].hash[:], []byte(l.HashValue)); err != nil {
			s.invalid, s.d, s.logs = fmt.Sprintf("logFiles[%d].hashValue: not hex", i), nil, nil
			return s
		}
	}
	s.d.LogFiles = nil
	return s
}

func (s *digestState) vouches() bool { return s.d != nil && s.invalid == "" && !s.unsigned }

type period struct{ start, end time.Time }

// named is what the digests of a stream say about one log file: the
// verified digest that names it, else the first unsigned or invalid one
// (which cannot vouch for it, see judge).
type named struct {
	ref    logRef
	digest *digestState
}

// streamIndex is the sealed verdicts of one stream's digests: which log
// files they name with which hash, and the periods verified digests cover.
// After seal it is read-only, so judge may run concurrently.
type streamIndex struct {
	id         streamID
	opts       Options
	unreadable func(tail string) bool // present but unreadable: never missing
	named      map[string]named       // by logTail
	spans      []period               // merged periods of the verified digests
	newest     time.Time              // the end of the newest verified period
	ends       map[string]time.Time   // Index: the newest digest's end, by trail
}

func (x *streamIndex) logListed(t time.Time) bool {
	return (x.opts.Start.IsZero() || !t.Before(x.opts.Start)) && (x.opts.End.IsZero() || t.Before(x.opts.End))
}

func (x *streamIndex) digestListed(t time.Time) bool {
	return (x.opts.Start.IsZero() || !t.Before(x.opts.Start)) && (x.opts.End.IsZero() || t.Before(x.opts.End.Add(DigestLag)))
}

// seal judges the stream's digests (every trail's chain, in time order),
// emits a finding per digest and per chain gap or missing digest, and
// indexes the log files they name.
func (x *streamIndex) seal(digests []*digestState, emit func(Finding)) {
	chains := map[string][]*digestState{}
	for _, s := range digests {
		chains[s.key.Trail] = append(chains[s.key.Trail], s)
	}
	x.named = map[string]named{}
	var vouched []period
	for _, t := range slices.Sorted(maps.Keys(chains)) {
		vouched = x.judgeChain(chains[t], vouched, emit)
	}
	x.spans = mergePeriods(vouched)
	if n := len(x.spans); n > 0 {
		x.newest = x.spans[n-1].end
	}
}

// judgeChain checks one trail's digests of one stream and indexes the log
// files they name; it returns vouched extended by the periods of the
// digests that check out.
func (x *streamIndex) judgeChain(chain []*digestState, vouched []period, emit func(Finding)) []period {
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
		pub := x.opts.Keys[strings.ToLower(s.d.DigestPublicKeyFingerprint)]
		if pub == nil {
			s.invalid = fmt.Sprintf("signed with public key %s, which is not among the %d keys given", s.d.DigestPublicKeyFingerprint, len(x.opts.Keys))
			continue
		}
		if err := checkSignature(pub, StringToSign(s.d, s.sum), s.signature); err != nil {
			s.invalid = err.Error()
		}
	}
	x.checkLinks(chain, byTail, emit)
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
		for _, item := range s.logs {
			tail := logTail(item.object)
			if old, ok := x.named[tail]; !ok || s.vouches() && !old.digest.vouches() {
				x.named[tail] = named{ref: item, digest: s}
			}
		}
	}
	return vouched
}

// checkLinks follows the chain: each digest names its predecessor and that
// one's hash and signature; a digest that names none starts a chain again.
func (x *streamIndex) checkLinks(chain []*digestState, byTail map[string]*digestState, emit func(Finding)) {
	for i, s := range chain {
		if s.d == nil {
			continue
		}
		if !s.d.hasPrevious() {
			var start time.Time
			known := i > 0
			if known {
				prev := chain[i-1]
				start = prev.key.Time
				if prev.d != nil {
					start = prev.d.End()
				}
			} else if x.opts.ChainBefore != nil {
				start, known = x.opts.ChainBefore(x.id.org, x.id.account, x.id.region, s.key.Trail)
				known = known && s.d.Start().After(start)
			}
			if known {
				end := s.d.Start()
				emit(Finding{Status: StatusChainGap, Key: s.objectKey, Bucket: s.bucket, Start: &start, End: &end,
					Detail: fmt.Sprintf("the digest chain restarts: no digests from %s to %s (log file validation or the trail was off)", start.Format(time.RFC3339), end.Format(time.RFC3339))})
			}
			continue
		}
		prevKey := *s.d.PreviousDigestS3Object
		p := byTail[logTail(prevKey)]
		if p == nil && x.unreadable(logTail(prevKey)) {
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
			if pk, ok := cloudtrail.ParseKey(logTail(prevKey)); ok && x.digestListed(pk.Time) {
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
}

// judge is the verdict on one log file (delivered is the time in its
// name). A verified digest's word is final. A file that only an unsigned
// or invalid digest names, delivered inside a period that verified digests
// cover, was slipped in: a forged digest cannot vouch for it.
func (x *streamIndex) judge(l LogFile, delivered time.Time) Finding {
	f := Finding{Key: l.Key, Bucket: l.Bucket, Delivered: &delivered}
	n, isNamed := x.named[logTail(l.Key)]
	if isNamed {
		f.DigestKey = n.digest.objectKey
	}
	if isNamed && n.digest.vouches() {
		if n.ref.hash != l.SHA256 {
			f.Status, f.Detail = StatusLogModified, fmt.Sprintf("SHA-256 %x, the digest says %x", l.SHA256, n.ref.hash)
		} else {
			f.Status, f.Detail = StatusValid, "SHA-256 matches a verified digest"
		}
		return f
	}
	// A name gives the minute of delivery only: the file is inside a span
	// when its whole minute is.
	covered := slices.ContainsFunc(x.spans, func(p period) bool {
		return !delivered.Before(p.start) && !delivered.Add(time.Minute).After(p.end)
	})
	switch {
	case covered && isNamed:
		f.Status, f.Detail = StatusLogUnreferenced, "delivered inside a verified digest's period, named by no verified digest, only by "+n.digest.objectKey
	case covered:
		f.Status, f.Detail = StatusLogUnreferenced, "delivered inside a verified digest's period, named by no digest"
	case isNamed && n.digest.invalid != "":
		f.Status, f.Detail = StatusLogUnverified, "its digest is invalid: "+n.digest.invalid
	case isNamed && n.ref.hash != l.SHA256:
		f.Status, f.Detail = StatusLogModified, fmt.Sprintf("SHA-256 %x, the digest says %x", l.SHA256, n.ref.hash)
	case isNamed:
		f.Status, f.Detail = StatusLogUnverified, "matches its digest, which is unsigned"
	case x.newest.IsZero():
		f.Status, f.Detail = StatusLogUnverified, "no verified digest covers its stream"
	case !delivered.Before(x.newest):
		f.Status, f.Detail = StatusLogUnverified, "delivered after the newest verified digest"
	default:
		f.Status, f.Detail = StatusLogUnverified, "delivered where no verified digest covers the stream (a chain gap, or an unsigned or invalid digest)"
	}
	return f
}

// missing emits log_missing for each file a digest (verified or unsigned;
// an invalid digest's list proves nothing) names that is not present,
// delivered inside the window of log files read.
func (x *streamIndex) missing(present func(tail string) bool, emit func(Finding)) {
	for _, tail := range slices.Sorted(maps.Keys(x.named)) {
		n := x.named[tail]
		if n.digest.invalid != "" || present(tail) || x.unreadable(tail) {
			continue
		}
		if k, ok := cloudtrail.ParseKey(tail); ok && !x.logListed(k.Time) {
			continue
		}
		emit(Finding{Status: StatusLogMissing, Key: n.ref.object, Bucket: n.ref.bucket, DigestKey: n.digest.objectKey,
			Detail: "named by digest " + n.digest.objectKey + ", absent"})
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

// Index judges log files one at a time as they are read, against digests
// read before them: the Checker reads a week's digests, seals them, then
// judges each log file of the week as it is read.
//
//	x := NewIndex(opts)
//	x.AddDigest(…) for each digest (any streams)
//	x.Seal(emit)       // digest findings: invalid, missing, unsigned, chain gaps
//	x.Present(key)     // each log file listed (read or not, e.g. committed before)
//	x.Judge(file)      // concurrently, as files are read
//	x.Missing(emit)    // once every file was listed: log_missing
//
// Present, Judge and Missing are safe for concurrent use after Seal.
type Index struct {
	opts    Options
	digests map[streamID][]*digestState
	streams map[streamID]*streamIndex

	mu         sync.Mutex
	present    map[string]string // the key, by logTail
	unreadable map[string]bool   // digests that could not be read
}

// NewIndex returns an empty index.
func NewIndex(opts Options) *Index {
	return &Index{opts: opts, digests: map[streamID][]*digestState{}, present: map[string]string{}, unreadable: map[string]bool{}}
}

// AddDigest adds a digest before Seal. Not safe for concurrent use.
func (x *Index) AddDigest(f DigestFile) error {
	k, ok := cloudtrail.ParseKey(f.Key)
	if !ok || k.Kind != cloudtrail.KindDigest {
		return fmt.Errorf("%s: not a CloudTrail digest key (AWSLogs/…/CloudTrail-Digest/REGION/YYYY/MM/DD/…)", f.Key)
	}
	x.digests[streamOf(k)] = append(x.digests[streamOf(k)], newDigestState(f, k))
	return nil
}

// AddUnreadable records a digest that exists but could not be read before
// Seal: its successor does not report it missing (the caller reports the
// error). Not safe for concurrent use.
func (x *Index) AddUnreadable(key string) { x.unreadable[logTail(key)] = true }

// Seal judges the digests, stream by stream (sorted), and emits their
// findings.
func (x *Index) Seal(emit func(Finding)) {
	ids := make([]streamID, 0, len(x.digests))
	for id := range x.digests {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareStreams)
	x.streams = map[streamID]*streamIndex{}
	unreadable := func(tail string) bool { return x.unreadable[tail] }
	for _, id := range ids {
		s := &streamIndex{id: id, opts: x.opts, unreadable: unreadable}
		s.ends = map[string]time.Time{}
		for _, d := range x.digests[id] {
			if d.d != nil && d.d.End().After(s.ends[d.key.Trail]) {
				s.ends[d.key.Trail] = d.d.End()
			}
		}
		s.seal(x.digests[id], emit)
		x.streams[id] = s
	}
	x.digests = nil
}

// ChainEnds calls fn with the end of the newest digest of each stream's
// trail sealed (the next window's Options.ChainBefore).
func (x *Index) ChainEnds(fn func(org, account, region, trail string, end time.Time)) {
	for id, s := range x.streams {
		for trail, end := range s.ends {
			fn(id.org, id.account, id.region, trail, end)
		}
	}
}

func compareStreams(a, b streamID) int {
	return cmp.Or(cmp.Compare(a.org, b.org), cmp.Compare(a.account, b.account), cmp.Compare(a.region, b.region))
}

func (x *Index) isPresent(tail string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.present[tail] != ""
}

// Present records a log file as there (listed), whether or not it is read
// now: Missing does not report it. Two copies of one file (an archive
// copied twice into a tree) are an error: judging either alone could hide
// a change in the other.
func (x *Index) Present(key string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	tail := logTail(key)
	if old, dup := x.present[tail]; dup && old != key {
		return fmt.Errorf("%s and %s are copies of the same CloudTrail log file: verify one copy of an archive at a time", old, key)
	}
	x.present[tail] = key
	return nil
}

// Judge is the verdict on one log file read (its SHA-256 over the
// uncompressed content), which it also records as present. Its key must
// be in the CloudTrail layout.
func (x *Index) Judge(f LogFile) (Finding, error) {
	k, ok := cloudtrail.ParseKey(f.Key)
	if !ok || k.Kind != cloudtrail.KindLog {
		return Finding{}, fmt.Errorf("%s: not a CloudTrail log file key (AWSLogs/…/CloudTrail/REGION/YYYY/MM/DD/…)", f.Key)
	}
	_ = x.Present(f.Key) // a second copy was refused when it was listed
	s := x.streams[streamOf(k)]
	if s == nil {
		s = &streamIndex{opts: x.opts, unreadable: func(string) bool { return false }}
	}
	return s.judge(f, k.Time), nil
}

// Missing emits log_missing for the files the digests name that were not
// Present, in the window of Options, stream by stream.
func (x *Index) Missing(emit func(Finding)) {
	ids := make([]streamID, 0, len(x.streams))
	for id := range x.streams {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareStreams)
	for _, id := range ids {
		x.streams[id].missing(x.isPresent, emit)
	}
}
