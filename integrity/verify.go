package integrity

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
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
	// StreamStart, when set, gives one stream a later Start: the input
	// resumes each stream at its checkpoint, so files a digest names
	// before that were delivered by an earlier run, not deleted (Index
	// only).
	StreamStart func(org, account, region string) time.Time
	// ChainBefore, when set, gives the end of the last digest of a
	// stream's trail judged before this window (Index only): the input
	// judges a stream a week at a time, and a chain that restarts at the
	// first digest of a week is then still a chain_gap, from that end.
	ChainBefore func(org, account, region, trail string) (time.Time, bool)
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
	s := newDigestState(f, k)
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
	slices.SortFunc(sorted, compareStreams)
	for _, id := range sorted {
		v.finishStream(v.logs[id], v.digests[id], emit)
		delete(v.logs, id)
		delete(v.digests, id)
	}
}

func (v *Verifier) finishStream(logs map[string]*logEntry, digests []*digestState, emit func(Finding)) {
	x := &streamIndex{opts: v.opts, unreadable: func(tail string) bool { return v.unreadable[tail] }}
	x.seal(digests, emit)
	sorted := slices.SortedFunc(maps.Values(logs), func(a, b *logEntry) int { return cmp.Compare(a.Key, b.Key) })
	for _, l := range sorted {
		emit(x.judge(l.LogFile, l.delivered))
	}
	x.missing(func(tail string) bool { return logs[tail] != nil }, emit)
}
