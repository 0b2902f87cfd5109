package integrity

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Digest is a CloudTrail digest file ("CloudTrail digest file structure").
// Digests are a few kilobytes with a fixed schema, read whole once: they are
// decoded with encoding/json into this struct (gjson serves the large log
// files, where only a few fields of each event matter).
type Digest struct {
	AWSAccountID                string    `json:"awsAccountId"`
	DigestStartTime             string    `json:"digestStartTime"`
	DigestEndTime               string    `json:"digestEndTime"`
	DigestS3Bucket              string    `json:"digestS3Bucket"`
	DigestS3Object              string    `json:"digestS3Object"`
	DigestPublicKeyFingerprint  string    `json:"digestPublicKeyFingerprint"`
	DigestSignatureAlgorithm    string    `json:"digestSignatureAlgorithm"`
	NewestEventTime             *string   `json:"newestEventTime"`
	OldestEventTime             *string   `json:"oldestEventTime"`
	PreviousDigestS3Bucket      *string   `json:"previousDigestS3Bucket"`
	PreviousDigestS3Object      *string   `json:"previousDigestS3Object"`
	PreviousDigestHashValue     *string   `json:"previousDigestHashValue"`
	PreviousDigestHashAlgorithm *string   `json:"previousDigestHashAlgorithm"`
	PreviousDigestSignature     *string   `json:"previousDigestSignature"`
	LogFiles                    []LogItem `json:"logFiles"`

	start, end time.Time
}

// LogItem is one entry of a digest's logFiles.
type LogItem struct {
	S3Bucket        string `json:"s3Bucket"`
	S3Object        string `json:"s3Object"`
	HashValue       string `json:"hashValue"`
	HashAlgorithm   string `json:"hashAlgorithm"`
	NewestEventTime string `json:"newestEventTime"`
	OldestEventTime string `json:"oldestEventTime"`
}

// ParseDigest decodes an (uncompressed) digest file and checks the fields
// the verification depends on. Errors name the field.
func ParseDigest(data []byte) (*Digest, error) {
	var d Digest
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("not a digest file: %v", err)
	}
	var err error
	if d.start, err = time.Parse(time.RFC3339, d.DigestStartTime); err != nil {
		return nil, fmt.Errorf("digestStartTime: %q is not an RFC 3339 time", d.DigestStartTime)
	}
	if d.end, err = time.Parse(time.RFC3339, d.DigestEndTime); err != nil {
		return nil, fmt.Errorf("digestEndTime: %q is not an RFC 3339 time", d.DigestEndTime)
	}
	switch {
	case d.DigestS3Bucket == "" || d.DigestS3Object == "":
		return nil, fmt.Errorf("digestS3Bucket/digestS3Object: missing")
	case d.DigestPublicKeyFingerprint == "":
		return nil, fmt.Errorf("digestPublicKeyFingerprint: missing")
	case d.DigestSignatureAlgorithm != "SHA256withRSA":
		return nil, fmt.Errorf("digestSignatureAlgorithm: %q is not SHA256withRSA", d.DigestSignatureAlgorithm)
	case !d.end.After(d.start):
		return nil, fmt.Errorf("digestEndTime: %s is not after digestStartTime %s", d.DigestEndTime, d.DigestStartTime)
	}
	if p := d.PreviousDigestHashAlgorithm; d.hasPrevious() && (p == nil || *p != "SHA-256") {
		return nil, fmt.Errorf("previousDigestHashAlgorithm: want SHA-256")
	}
	for i, l := range d.LogFiles {
		if l.S3Object == "" || l.HashAlgorithm != "SHA-256" || len(l.HashValue) != 64 {
			return nil, fmt.Errorf("logFiles[%d]: want s3Object and a SHA-256 hashValue", i)
		}
	}
	return &d, nil
}

// Start and End are the digest's period.
func (d *Digest) Start() time.Time { return d.start }
func (d *Digest) End() time.Time   { return d.end }

// hasPrevious: is the digest linked to a previous one (not a chain start)?
func (d *Digest) hasPrevious() bool {
	return d.PreviousDigestS3Object != nil && *d.PreviousDigestS3Object != ""
}

// previousSignature is previousDigestSignature as it enters the string to
// sign: the literal null at the start of a chain.
func (d *Digest) previousSignature() string {
	if d.PreviousDigestSignature == nil {
		return "null"
	}
	return *d.PreviousDigestSignature
}

// logTail is the part of a key from "AWSLogs/" on. Digests name objects by
// their full S3 key; a local copy may sit under any directory, or the sync
// may have started below the trail's prefix: files are matched by this tail.
func logTail(key string) string {
	if i := strings.Index(key, "AWSLogs/"); i >= 0 {
		return key[i:]
	}
	return key
}
