package integrity

import (
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
	// ChainBefore, when set, gives the end of the last digest of a
	// stream's trail judged before this window: the Checker judges a
	// stream a week at a time, and a chain that restarts at the
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

func streamOf(k cloudtrail.Key) streamID { return streamID{k.OrgID, k.Account, k.Region} }
