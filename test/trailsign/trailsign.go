// Package trailsign builds CloudTrail archives with log file validation on,
// for tests: the corpus's log files plus the hourly digest files CloudTrail
// would deliver, chained and signed with a key made for the test, and the
// public key as `aws cloudtrail list-public-keys` prints it.
package trailsign

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opsworks-trail/opsworks-trail/integrity"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

// Options say what to build.
type Options struct {
	Corpus     corpus.Options
	Bucket     string          // digestS3Bucket and the logs' s3Bucket; default "trail"
	Trail      string          // default "org-trail"
	HomeRegion string          // default "us-east-1"
	Key        *rsa.PrivateKey // nil: Key(), one key per process
	// Gap leaves out the digests whose period ends inside [Gap[0], Gap[1])
	// and starts the chain again after it (log file validation off for a
	// while), in every stream.
	Gap [2]time.Time
}

// Archive is a built archive. Files hold the stored (gzip) bytes by key.
type Archive struct {
	Bucket     string
	Files      map[string][]byte
	Signatures map[string]string // digest key → hex signature (S3's x-amz-meta-signature)
	Logs       []corpus.File
	Digests    []string // keys, in build order
	Key        *rsa.PrivateKey
	KeysJSON   []byte // the public key, as list-public-keys prints it
	Start, End time.Time
}

// Build makes the archive: every corpus log file, and per stream (account,
// region) one digest per hour from the hour of its first log file to the
// hour after its last, each listing the files delivered in its period.
func Build(o Options) (*Archive, error) {
	if o.Bucket == "" {
		o.Bucket = "trail"
	}
	if o.Trail == "" {
		o.Trail = "org-trail"
	}
	if o.HomeRegion == "" {
		o.HomeRegion = "us-east-1"
	}
	if o.Key == nil {
		o.Key = Key()
	}
	a := &Archive{Bucket: o.Bucket, Files: map[string][]byte{}, Signatures: map[string]string{}, Key: o.Key,
		Logs: corpus.LogFiles(o.Corpus)}
	fp := integrity.Fingerprint(&o.Key.PublicKey)
	keys, _ := json.Marshal(map[string]any{"PublicKeyList": []map[string]string{{
		"Value":             base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(&o.Key.PublicKey)),
		"ValidityStartTime": "2014-01-01T00:00:00Z", "ValidityEndTime": "2034-01-01T00:00:00Z", "Fingerprint": fp}}})
	a.KeysJSON = keys

	type stream struct{ account, region string }
	byStream := map[stream][]corpus.File{}
	for _, f := range a.Logs {
		gz, err := Gzip(f.Body)
		if err != nil {
			return nil, err
		}
		a.Files[f.Key] = gz
		s := stream{f.Account, f.Region}
		byStream[s] = append(byStream[s], f)
		if a.Start.IsZero() || f.Time.Before(a.Start) {
			a.Start = f.Time
		}
		if f.Time.After(a.End) {
			a.End = f.Time
		}
	}
	streams := make([]stream, 0, len(byStream))
	for s := range byStream {
		streams = append(streams, s)
	}
	sort.Slice(streams, func(i, j int) bool {
		return streams[i].account+streams[i].region < streams[j].account+streams[j].region
	})
	for _, s := range streams {
		files := byStream[s]
		slices.SortFunc(files, func(x, y corpus.File) int { return x.Time.Compare(y.Time) })
		first := files[0].Time.Truncate(time.Hour)
		last := files[len(files)-1].Time.Truncate(time.Hour).Add(time.Hour)
		var prevKey, prevHash, prevSig string
		for h := first; !h.After(last); h = h.Add(time.Hour) {
			start, end := h.Add(-time.Hour).Add(17*time.Second), h.Add(17*time.Second)
			if !o.Gap[0].IsZero() && !end.Before(o.Gap[0]) && end.Before(o.Gap[1]) {
				prevKey = "" // validation off: the chain starts again afterwards
				continue
			}
			key := digestKey(o, s.account, s.region, end)
			d := map[string]any{
				"awsAccountId": s.account, "digestStartTime": start.Format(time.RFC3339), "digestEndTime": end.Format(time.RFC3339),
				"digestS3Bucket": o.Bucket, "digestS3Object": key, "digestPublicKeyFingerprint": fp,
				"digestSignatureAlgorithm": "SHA256withRSA", "newestEventTime": nil, "oldestEventTime": nil,
				"previousDigestS3Bucket": nil, "previousDigestS3Object": nil, "previousDigestHashValue": nil,
				"previousDigestHashAlgorithm": nil, "previousDigestSignature": nil,
			}
			if prevKey != "" {
				d["previousDigestS3Bucket"], d["previousDigestS3Object"] = o.Bucket, prevKey
				d["previousDigestHashValue"], d["previousDigestHashAlgorithm"] = prevHash, "SHA-256"
				d["previousDigestSignature"] = prevSig
			}
			items := []map[string]string{}
			for _, f := range files {
				// delivered at second 0 of the minute in its name
				if !f.Time.Before(start) && f.Time.Before(end) {
					sum := sha256.Sum256(f.Body)
					items = append(items, map[string]string{"s3Bucket": o.Bucket, "s3Object": f.Key,
						"hashValue": hex.EncodeToString(sum[:]), "hashAlgorithm": "SHA-256",
						"newestEventTime": f.Time.Format(time.RFC3339), "oldestEventTime": f.Time.Add(-5 * time.Minute).Format(time.RFC3339)})
				}
			}
			d["logFiles"] = items
			data, err := json.Marshal(d)
			if err != nil {
				return nil, err
			}
			sig, err := SignDigest(o.Key, data)
			if err != nil {
				return nil, err
			}
			gz, err := Gzip(data)
			if err != nil {
				return nil, err
			}
			a.Files[key], a.Signatures[key] = gz, sig
			a.Digests = append(a.Digests, key)
			sum := sha256.Sum256(data)
			prevKey, prevHash, prevSig = key, hex.EncodeToString(sum[:]), sig
		}
	}
	return a, nil
}

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
)

// Key is the signing key archives get by default: made once per process
// (a 2048-bit key takes a noticeable moment), so that the tests that build
// many archives share it.
func Key() *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic("trailsign: generating an RSA key: " + err.Error())
		}
		key = k
	})
	return key
}

// SignDigest signs an uncompressed digest as CloudTrail does.
func SignDigest(key *rsa.PrivateKey, data []byte) (string, error) {
	d, err := integrity.ParseDigest(data)
	if err != nil {
		return "", err
	}
	return integrity.Sign(key, d, sha256.Sum256(data))
}

func digestKey(o Options, account, region string, end time.Time) string {
	org := ""
	if o.Corpus.OrgID != "" {
		org = o.Corpus.OrgID + "/"
	}
	return fmt.Sprintf("AWSLogs/%s%s/CloudTrail-Digest/%s/%s/%s_CloudTrail-Digest_%s_%s_%s_%s.json.gz",
		org, account, region, end.Format("2006/01/02"), account, region, o.Trail, o.HomeRegion, end.Format("20060102T150405Z"))
}

// Gzip compresses data with a fixed header (s3test.Gzip).
func Gzip(data []byte) ([]byte, error) { return s3test.Gzip(data, time.Time{}) }

// Gunzip is the reverse, for tests that edit a file.
func Gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(zr); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteDir writes the files under dir (as `aws s3 sync` would: no metadata).
func (a *Archive) WriteDir(dir string) error {
	for k, b := range a.Files {
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Metadata is the object metadata CloudTrail gives a digest at key
// (x-amz-meta-signature and -signature-algorithm); nil for a log file.
func (a *Archive) Metadata(key string) map[string]string {
	sig, ok := a.Signatures[key]
	if !ok {
		return nil
	}
	return map[string]string{"signature": sig, "signature-algorithm": "SHA256withRSA"}
}

// Upload puts every file into the bucket a.Bucket (which must exist), the
// digests with their metadata, with workers PUTs in parallel.
func (a *Archive) Upload(ctx context.Context, client *s3.Client, workers int) error {
	workers = max(workers, 1)
	keys := make(chan string)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(k),
					Body: bytes.NewReader(a.Files[k]), Metadata: a.Metadata(k)})
				if err != nil {
					errs <- fmt.Errorf("upload %s: %w", k, err)
					for range keys { // drain: the others stop too
					}
					return
				}
			}
		}()
	}
	for k := range a.Files {
		keys <- k
	}
	close(keys)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}
