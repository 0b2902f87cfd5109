package integrity_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/integrity"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/trailsign"
)

func build(t *testing.T, o trailsign.Options) *trailsign.Archive {
	t.Helper()
	if o.Corpus.Seed == 0 {
		o.Corpus = corpus.Options{Seed: 5, Events: 400, OpsWorksShare: 0.3, EventsPerFile: 10,
			Accounts: []string{"111122223333"}, Regions: []string{"us-east-1", "eu-west-1"},
			Start: time.Date(2024, 5, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 30, 8, 0, 0, 0, time.UTC)}
	}
	a, err := trailsign.Build(o) // signed with trailsign.Key()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// files decodes an archive's digests and log files in key order: with S3
// metadata (bucket and signatures) or as a local copy without.
func files(t *testing.T, a *trailsign.Archive, metadata bool) ([]integrity.DigestFile, []integrity.LogFile) {
	t.Helper()
	bucket := ""
	if metadata {
		bucket = a.Bucket
	}
	var digests []integrity.DigestFile
	var logs []integrity.LogFile
	for _, k := range slices.Sorted(maps.Keys(a.Files)) {
		data, err := trailsign.Gunzip(a.Files[k])
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(k, "/CloudTrail-Digest/") {
			sig := ""
			if metadata {
				sig = a.Signatures[k]
			}
			digests = append(digests, integrity.DigestFile{Bucket: bucket, Key: k, Data: data, Signature: sig})
		} else {
			logs = append(logs, integrity.LogFile{Bucket: bucket, Key: k, SHA256: sha256.Sum256(data)})
		}
	}
	return digests, logs
}

// run judges an archive as the Checker does, with one Index: every digest
// first, then each log file on its own, then the missing ones; keys verify
// the signatures.
func run(t *testing.T, a *trailsign.Archive, metadata bool, keys integrity.PublicKeys) []integrity.Finding {
	t.Helper()
	digests, logs := files(t, a, metadata)
	x := integrity.NewIndex(integrity.Options{Keys: keys})
	for _, d := range digests {
		must(t, x.AddDigest(d))
	}
	var out []integrity.Finding
	emit := func(f integrity.Finding) { out = append(out, f) }
	x.Seal(emit)
	for _, l := range logs {
		f, err := x.Judge(l)
		must(t, err)
		emit(f)
	}
	x.Missing(emit)
	return out
}

func keysOf(t *testing.T, a *trailsign.Archive) integrity.PublicKeys {
	t.Helper()
	k := integrity.PublicKeys{}
	if err := k.ParsePublicKeysJSON("keys.json", a.KeysJSON); err != nil {
		t.Fatal(err)
	}
	return k
}

func counts(fs []integrity.Finding) map[string]int {
	c := map[string]int{}
	for _, f := range fs {
		c[f.Status]++
	}
	return c
}

func find(fs []integrity.Finding, status string) []integrity.Finding {
	var out []integrity.Finding
	for _, f := range fs {
		if f.Status == status {
			out = append(out, f)
		}
	}
	return out
}

// logKeys and digestKeys of an archive, sorted.
func logKeys(a *trailsign.Archive) (logs, digests []string) {
	for _, k := range slices.Sorted(maps.Keys(a.Files)) {
		if strings.Contains(k, "/CloudTrail-Digest/") {
			digests = append(digests, k)
		} else {
			logs = append(logs, k)
		}
	}
	return logs, digests
}

func TestCleanArchives(t *testing.T) {
	for _, tc := range []struct {
		name string
		org  string
	}{{"single account", ""}, {"organization trail", "o-abcdefghij"}} {
		t.Run(tc.name, func(t *testing.T) {
			o := trailsign.Options{}
			if tc.org != "" {
				o.Corpus = corpus.Options{Seed: 6, Events: 300, OpsWorksShare: 0.3, EventsPerFile: 10, OrgID: tc.org,
					Accounts: []string{"111122223333", "444455556666"}, Regions: []string{"us-east-1"},
					Start: time.Date(2024, 5, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 30, 6, 0, 0, 0, time.UTC)}
			}
			a := build(t, o)
			logs, digests := logKeys(a)
			fs := run(t, a, true, keysOf(t, a))
			if c := counts(fs); len(c) != 1 || c[integrity.StatusValid] != len(logs)+len(digests) {
				t.Fatalf("want %d valid and nothing else, got %v: %v", len(logs)+len(digests), c, fs)
			}
		})
	}
}

// A copy without metadata: every digest but the newest of each stream is
// verified through its successor's previousDigestSignature.
func TestLocalCopyUsesTheSuccessorsSignature(t *testing.T) {
	a := build(t, trailsign.Options{})
	fs := run(t, a, false, keysOf(t, a))
	c := counts(fs)
	unsigned := find(fs, integrity.StatusDigestUnsigned)
	if len(unsigned) != 2 { // one stream per region
		t.Fatalf("want the newest digest of each of the 2 streams unsigned, got %v", c)
	}
	for _, f := range unsigned {
		if !strings.HasSuffix(f.Key, ".json.gz") || c[integrity.StatusValid] == 0 {
			t.Fatalf("unexpected %v", f)
		}
	}
	for _, f := range fs {
		if integrity.Tampered(f.Status) {
			t.Fatalf("a clean copy reported %v", f)
		}
		if f.Status == integrity.StatusLogUnverified && !strings.Contains(f.Detail, "unsigned") {
			t.Fatalf("log_unverified for another reason: %v", f)
		}
	}
}

func TestTampering(t *testing.T) {
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	type check func(t *testing.T, a *trailsign.Archive, fs []integrity.Finding, target string)
	cases := []struct {
		name   string
		mutate func(t *testing.T, a *trailsign.Archive) string // returns the key to look for
		keys   func(a *trailsign.Archive) integrity.PublicKeys
		status string
		extra  check
	}{
		{name: "deleted log file", status: integrity.StatusLogMissing, mutate: func(t *testing.T, a *trailsign.Archive) string {
			logs, _ := logKeys(a)
			delete(a.Files, logs[3])
			return logs[3]
		}},
		{name: "changed byte", status: integrity.StatusLogModified, mutate: func(t *testing.T, a *trailsign.Archive) string {
			logs, _ := logKeys(a)
			body, _ := trailsign.Gunzip(a.Files[logs[5]])
			body = bytes.Replace(body, []byte(`"eventName":"`), []byte(`"eventName":"X`), 1)
			a.Files[logs[5]], _ = trailsign.Gzip(body)
			return logs[5]
		}},
		{name: "forged file", status: integrity.StatusLogUnreferenced, mutate: func(t *testing.T, a *trailsign.Archive) string {
			logs, _ := logKeys(a)
			forged := logs[4][:len(logs[4])-len("0123456789abcdef.json.gz")] + "ffffffffffffffff.json.gz"
			a.Files[forged] = a.Files[logs[4]]
			return forged
		}},
		{name: "deleted digest", status: integrity.StatusDigestMissing, mutate: func(t *testing.T, a *trailsign.Archive) string {
			_, digests := logKeys(a)
			delete(a.Files, digests[2])
			return digests[2]
		}, extra: func(t *testing.T, a *trailsign.Archive, fs []integrity.Finding, target string) {
			for _, f := range find(fs, integrity.StatusDigestMissing) {
				if f.DigestKey == "" {
					t.Fatalf("digest_missing without the digest naming it: %v", f)
				}
			}
		}},
		{name: "edited digest", status: integrity.StatusDigestInvalid, mutate: func(t *testing.T, a *trailsign.Archive) string {
			_, digests := logKeys(a)
			body, _ := trailsign.Gunzip(a.Files[digests[3]])
			body = bytes.Replace(body, []byte(`"hashValue":"`), []byte(`"hashValue":"0`), 1)
			body = bytes.Replace(body, []byte(`","hashAlgorithm"`), []byte(`","hashAlgorithm"`), 1)
			i := bytes.Index(body, []byte(`"hashValue":"0`)) + len(`"hashValue":"0`) + 63
			body = append(body[:i:i], body[i+1:]...) // keep 64 hex digits
			a.Files[digests[3]], _ = trailsign.Gzip(body)
			return digests[3]
		}},
		{name: "wrong key", status: integrity.StatusDigestInvalid, keys: func(a *trailsign.Archive) integrity.PublicKeys {
			k := integrity.PublicKeys{}
			_ = k.Add(integrity.Fingerprint(&a.Key.PublicKey), x509PKCS1(&other.PublicKey))
			return k
		}, mutate: func(t *testing.T, a *trailsign.Archive) string {
			_, digests := logKeys(a)
			return digests[0]
		}},
		{name: "moved digest", status: integrity.StatusDigestInvalid, mutate: func(t *testing.T, a *trailsign.Archive) string {
			_, digests := logKeys(a)
			moved := strings.Replace(digests[1], "/2024/05/30/", "/2024/05/29/", 1)
			a.Files[moved], a.Signatures[moved] = a.Files[digests[1]], a.Signatures[digests[1]]
			delete(a.Files, digests[1])
			return moved
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, metadata := range []bool{true, false} {
				a := build(t, trailsign.Options{})
				target := tc.mutate(t, a)
				keys := keysOf(t, a)
				if tc.keys != nil {
					keys = tc.keys(a)
				}
				fs := run(t, a, metadata, keys)
				hit := false
				for _, f := range find(fs, tc.status) {
					if f.Key == target {
						hit = true
					}
				}
				if !hit {
					t.Fatalf("metadata %v: no %s for %s; got %v", metadata, tc.status, target, counts(fs))
				}
				for _, f := range fs {
					if integrity.Tampered(f.Status) && f.Status != tc.status && tc.status != integrity.StatusDigestInvalid &&
						!(tc.status == integrity.StatusDigestMissing && f.Status == integrity.StatusLogUnreferenced) {
						t.Errorf("metadata %v: unexpected %v", metadata, f)
					}
				}
				if tc.extra != nil {
					tc.extra(t, a, fs, target)
				}
			}
		})
	}
}

// Validation off for three hours: a chain_gap with its period, the logs
// delivered inside it unverified, nothing reported as tampering.
func TestChainRestart(t *testing.T) {
	gap := [2]time.Time{time.Date(2024, 5, 30, 3, 0, 0, 0, time.UTC), time.Date(2024, 5, 30, 6, 0, 0, 0, time.UTC)}
	a := build(t, trailsign.Options{Gap: gap})
	fs := run(t, a, true, keysOf(t, a))
	gaps := find(fs, integrity.StatusChainGap)
	if len(gaps) != 2 {
		t.Fatalf("want one chain_gap per stream, got %v", counts(fs))
	}
	for _, g := range gaps {
		if g.Start == nil || g.End == nil || g.Start.After(gap[0]) || g.End.Before(gap[1].Add(-time.Hour)) {
			t.Fatalf("gap period %v – %v does not cover %v", g.Start, g.End, gap)
		}
	}
	unverified := find(fs, integrity.StatusLogUnverified)
	if len(unverified) == 0 {
		t.Fatal("no log file inside the gap")
	}
	for _, f := range unverified {
		if f.Delivered.Before(gap[0].Add(-time.Hour)) || !f.Delivered.Before(gap[1]) {
			t.Fatalf("log_unverified outside the gap: %v", f)
		}
	}
	for _, f := range fs {
		if integrity.Tampered(f.Status) {
			t.Fatalf("a chain restart reported as tampering: %v", f)
		}
	}
}

// A file slipped in together with a forged digest that names it (with no
// signature to check): an unverified digest cannot vouch for it, so inside
// the verified period it is still log_unreferenced.
func TestForgedDigestDoesNotHideAForgedFile(t *testing.T) {
	a := build(t, trailsign.Options{})
	logs, digests := logKeys(a)
	forged := logs[4][:len(logs[4])-len("0123456789abcdef.json.gz")] + "ffffffffffffffff.json.gz"
	a.Files[forged] = a.Files[logs[4]]
	body, _ := trailsign.Gunzip(a.Files[forged])
	sum := sha256.Sum256(body)
	// A digest of its own, between two real ones, listing only the forgery.
	real := digests[3]
	fake := strings.Replace(real, "0017Z", "3017Z", 1) // half past: another name in the same folder
	d := fmt.Sprintf(`{"awsAccountId":"111122223333","digestStartTime":"2024-05-30T02:00:00Z","digestEndTime":"2024-05-30T02:30:00Z","digestS3Bucket":"trail","digestS3Object":%q,"digestPublicKeyFingerprint":"00","digestSignatureAlgorithm":"SHA256withRSA","previousDigestSignature":null,"logFiles":[{"s3Bucket":"trail","s3Object":%q,"hashValue":"%x","hashAlgorithm":"SHA-256"}]}`, fake, forged, sum)
	a.Files[fake], _ = trailsign.Gzip([]byte(d))
	fs := run(t, a, true, keysOf(t, a))
	got := ""
	for _, f := range fs {
		if f.Key == forged {
			got = f.Status
		}
	}
	if got != integrity.StatusLogUnreferenced {
		t.Fatalf("the forged file is %q, want log_unreferenced; all: %v", got, counts(fs))
	}
}

// The trail moved to another bucket: the first digest in this one names its
// predecessor there. That is a chain gap to follow up, not a deleted digest.
func TestPreviousDigestInAnotherBucket(t *testing.T) {
	a := build(t, trailsign.Options{})
	_, digests := logKeys(a)
	first := digests[0]
	body, _ := trailsign.Gunzip(a.Files[first])
	body = bytes.Replace(body, []byte(`"previousDigestS3Bucket":null`), []byte(`"previousDigestS3Bucket":"old-trail"`), 1)
	body = bytes.Replace(body, []byte(`"previousDigestS3Object":null`), []byte(`"previousDigestS3Object":"AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2024/05/29/111122223333_CloudTrail-Digest_eu-west-1_org-trail_us-east-1_20240529T230017Z.json.gz"`), 1)
	body = bytes.Replace(body, []byte(`"previousDigestHashAlgorithm":null`), []byte(`"previousDigestHashAlgorithm":"SHA-256"`), 1)
	rechain(t, a, first, body)
	fs := run(t, a, true, keysOf(t, a))
	for _, f := range fs {
		if integrity.Tampered(f.Status) {
			t.Fatalf("a moved trail reported as tampering: %v", f)
		}
	}
	if c := counts(fs); c[integrity.StatusChainGap] != 1 {
		t.Fatalf("want one chain_gap, got %v", c)
	}
}

// Two copies of the same file in one tree are an error, not a silent pick.
func TestDuplicateCopies(t *testing.T) {
	x := integrity.NewIndex(integrity.Options{})
	k := "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/30/111122223333_CloudTrail_us-east-1_20240530T0000Z_abcdefghijklmnop.json.gz"
	if err := x.Present("b1/" + k); err != nil {
		t.Fatal(err)
	}
	if err := x.Present("b2/" + k); err == nil || !strings.Contains(err.Error(), "copies of the same") {
		t.Fatalf("want a duplicate error, got %v", err)
	}
}

// rechain stores a changed digest and re-links and re-signs the digests
// after it in its stream, as CloudTrail would have written them.
func rechain(t *testing.T, a *trailsign.Archive, key string, body []byte) {
	t.Helper()
	stream := key[:strings.Index(key, "/2024/")]
	var chain []string
	for _, k := range a.Digests {
		if strings.HasPrefix(k, stream+"/") {
			chain = append(chain, k)
		}
	}
	at := slices.Index(chain, key)
	for i := at; i < len(chain); i++ {
		if i > at {
			prev := chain[i-1]
			prevBody, _ := trailsign.Gunzip(a.Files[prev])
			sum := sha256.Sum256(prevBody)
			var d map[string]any
			cur, _ := trailsign.Gunzip(a.Files[chain[i]])
			if err := json.Unmarshal(cur, &d); err != nil {
				t.Fatal(err)
			}
			d["previousDigestHashValue"] = hex.EncodeToString(sum[:])
			d["previousDigestSignature"] = a.Signatures[prev]
			body, _ = json.Marshal(d)
		}
		sig, err := trailsign.SignDigest(a.Key, body)
		if err != nil {
			t.Fatal(err)
		}
		a.Files[chain[i]], _ = trailsign.Gzip(body)
		a.Signatures[chain[i]] = sig
	}
}

// An Index over the window after a gap: the chain restarts at its first
// digest, which is a chain_gap only when ChainBefore says where the chain
// before the window ended (the input judges a stream a week at a time).
func TestIndexChainBefore(t *testing.T) {
	gap := [2]time.Time{time.Date(2024, 5, 30, 3, 0, 0, 0, time.UTC), time.Date(2024, 5, 30, 6, 0, 0, 0, time.UTC)}
	a := build(t, trailsign.Options{Gap: gap})
	keys := keysOf(t, a)
	_, digests := logKeys(a)
	windows := func(before func(org, account, region, trail string) (time.Time, bool)) (first, second []integrity.Finding, ends map[string]time.Time) {
		ends = map[string]time.Time{}
		// The first window ends inside the gap: the restart is after its
		// extra hour of digests, so only the second window sees it.
		cut := gap[0].Add(time.Hour)
		for i, win := range [][2]time.Time{{a.Start.Add(-time.Hour), cut}, {cut, a.End.Add(2 * time.Hour)}} {
			o := integrity.Options{Keys: keys, Start: win[0], End: win[1]}
			if i == 1 {
				o.ChainBefore = before
			}
			x := integrity.NewIndex(o)
			for _, k := range digests {
				if kk, _ := cloudtrail.ParseKey(k); !kk.Time.Before(win[0]) && kk.Time.Before(win[1].Add(integrity.DigestLag)) {
					data, _ := trailsign.Gunzip(a.Files[k])
					must(t, x.AddDigest(integrity.DigestFile{Bucket: a.Bucket, Key: k, Data: data, Signature: a.Signatures[k]}))
				}
			}
			var out []integrity.Finding
			x.Seal(func(f integrity.Finding) { out = append(out, f) })
			if i == 0 {
				first = out
				x.ChainEnds(func(org, account, region, trail string, end time.Time) { ends[account+"/"+region+"/"+trail] = end })
			} else {
				second = out
			}
		}
		return first, second, ends
	}
	first, second, ends := windows(nil)
	if n := counts(second)[integrity.StatusChainGap] + counts(first)[integrity.StatusChainGap]; n != 0 || len(ends) != 2 {
		t.Fatalf("without ChainBefore: %d chain_gap, %d chain ends", n, len(ends))
	}
	_, second, _ = windows(func(_, account, region, trail string) (time.Time, bool) {
		end, ok := ends[account+"/"+region+"/"+trail]
		return end, ok
	})
	gaps := find(second, integrity.StatusChainGap)
	if len(gaps) != 2 {
		t.Fatalf("with ChainBefore: %v", counts(second))
	}
	for _, g := range gaps {
		if g.Start.After(gap[0]) || g.End.Before(gap[1].Add(-time.Hour)) {
			t.Errorf("gap period %v – %v does not cover %v", g.Start, g.End, gap)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
