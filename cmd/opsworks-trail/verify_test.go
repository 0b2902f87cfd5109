package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opsworks-trail/opsworks-trail/integrity"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/trailsign"
)

// signedArchive builds a small archive with digests, signed with a key
// made for the tests.
func signedArchive(t *testing.T) *trailsign.Archive {
	t.Helper()
	a := trailsign.MustBuild(t, trailsign.Options{Corpus: corpus.Options{Seed: 8, Events: 300, OpsWorksShare: 0.3,
		EventsPerFile: 10, Accounts: []string{"111122223333"}, Regions: []string{"us-east-1", "eu-west-1"},
		Start: time.Date(2024, 5, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 30, 6, 0, 0, 0, time.UTC)}})
	return a
}

type verdict struct {
	Status    string `json:"status"`
	Key       string `json:"key"`
	Detail    string `json:"detail"`
	DigestKey string `json:"digest_key"`
}

func runVerifyCLI(t *testing.T, args ...string) (int, []verdict, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"verify", "-progress", "off"}, args...), strings.NewReader(""), &out, &errb)
	var vs []verdict
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l == "" {
			continue
		}
		var v verdict
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("output line is not JSON: %v\n%s", err, l)
		}
		vs = append(vs, v)
	}
	return code, vs, errb.String()
}

func statusCount(vs []verdict) map[string]int {
	c := map[string]int{}
	for _, v := range vs {
		c[v.Status]++
	}
	return c
}

func TestVerifyLocalCopy(t *testing.T) {
	a := signedArchive(t)
	dir := a.Dir(t)
	keys := a.WriteKeys(t)
	window := []string{"-public-keys", keys, "-since", "2024-05-30", "-until", "2024-05-31"}

	code, vs, stderr := runVerifyCLI(t, append(window, dir)...)
	c := statusCount(vs)
	if code != exitOK || c[integrity.StatusDigestUnsigned] != 2 || c[integrity.StatusValid] != 0 {
		t.Fatalf("clean copy: exit %d, %v\n%s", code, c, stderr)
	}
	if !strings.Contains(stderr, "nothing tampered with") {
		t.Fatalf("summary: %s", stderr)
	}
	code, vs, _ = runVerifyCLI(t, append(append([]string{"-v"}, window...), dir)...)
	if n := len(vs); code != exitOK || n != len(a.Files) {
		t.Fatalf("-v: exit %d, %d verdicts for %d files", code, n, len(a.Files))
	}

	// Tamper: delete one log file, forge another.
	var logs []string
	for k := range a.Files {
		if !strings.Contains(k, "Digest") {
			logs = append(logs, k)
		}
	}
	if err := os.Remove(filepath.Join(dir, logs[0])); err != nil {
		t.Fatal(err)
	}
	forged := filepath.Join(dir, strings.Replace(logs[1], ".json.gz", "", 1)[:len(logs[1])-len("0123456789abcdef.json.gz")]+"ffffffffffffffff.json.gz")
	if err := os.WriteFile(forged, a.Files[logs[1]], 0o644); err != nil {
		t.Fatal(err)
	}
	code, vs, stderr = runVerifyCLI(t, append(window, dir)...)
	c = statusCount(vs)
	if code != exitBadInput || c[integrity.StatusLogMissing] != 1 || !strings.Contains(stderr, "TAMPERING") {
		t.Fatalf("tampered copy: exit %d, %v\n%s", code, c, stderr)
	}
	// The forged file sits in a verified period unless it is in the newest
	// (unsigned) digest's hour.
	if c[integrity.StatusLogUnreferenced]+c[integrity.StatusLogUnverified] == 0 {
		t.Fatalf("forged file not reported: %v", c)
	}

	// Wrong key: every signature fails.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	b64 := func(pub *rsa.PublicKey) []byte {
		return []byte(base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(pub)))
	}
	wrong := bytes.Replace(a.KeysJSON, b64(&trailsign.Key().PublicKey), b64(&other.PublicKey), 1)
	if bytes.Equal(wrong, a.KeysJSON) {
		t.Fatal("the key was not replaced")
	}
	wrongFile := filepath.Join(t.TempDir(), "wrong.json")
	_ = os.WriteFile(wrongFile, wrong, 0o644)
	code, vs, _ = runVerifyCLI(t, "-public-keys", wrongFile, "-since", "2024-05-30", "-until", "2024-05-31", dir)
	if c := statusCount(vs); code != exitBadInput || c[integrity.StatusDigestInvalid] == 0 {
		t.Fatalf("wrong key: exit %d, %v", code, c)
	}
}

func TestVerifyUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"-workers", "0", "x"}, {"-public-keys", "/no/such/file", t.TempDir()}} {
		if code, _, stderr := runVerifyCLI(t, args...); code != exitFailure {
			t.Errorf("%v: exit %d, want 1\n%s", args, code, stderr)
		}
	}
}

// S3 via MinIO with the signatures as object metadata, the public keys
// from a local CloudTrail endpoint (AWS_ENDPOINT_URL_CLOUDTRAIL).
func TestVerifyS3(t *testing.T) {
	a := signedArchive(t)
	srv := a.InMinIO(t)
	client := srv.Client(t)
	ct := trailsign.FakeCloudTrail(t, a)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", ct.URL)
	args := []string{"-input", "endpoint=" + srv.Endpoint, "-input", "force_path_style=on", "-input", "region=us-east-1",
		"-since", "2024-05-30", "-until", "2024-05-31", "s3://" + a.Bucket}
	code, vs, stderr := runVerifyCLI(t, append([]string{"-v"}, args...)...)
	c := statusCount(vs)
	if code != exitOK || c[integrity.StatusValid] != len(a.Files) || len(c) != 1 {
		t.Fatalf("clean bucket: exit %d, %v (want %d valid)\n%s", code, c, len(a.Files), stderr)
	}

	// An edited digest (re-uploaded with its old signature) and a changed log file.
	edited, changed := a.Digests[2], ""
	body, _ := trailsign.Gunzip(a.Files[edited])
	body = bytes.Replace(body, []byte(`"awsAccountId":"111122223333"`), []byte(`"awsAccountId":"111122223334"`), 1)
	gz, _ := trailsign.Gzip(body)
	if _, err := client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(edited),
		Body: bytes.NewReader(gz), Metadata: a.Metadata(edited)}); err != nil {
		t.Fatal(err)
	}
	// A log file of the other region: the edited digest's own files are
	// log_unverified (an invalid digest vouches for nothing).
	editedRegion := strings.Split(edited, "/")[3]
	for _, k := range slices.Sorted(maps.Keys(a.Files)) {
		if !strings.Contains(k, "Digest") && !strings.Contains(k, "/"+editedRegion+"/") {
			changed = k
			break
		}
	}
	lb, _ := trailsign.Gunzip(a.Files[changed])
	lb = bytes.Replace(lb, []byte(`"eventName":"`), []byte(`"eventName":"Z`), 1)
	lgz, _ := trailsign.Gzip(lb)
	srv.PutObject(t, a.Bucket, changed, lgz)
	code, vs, stderr = runVerifyCLI(t, args...)
	found := map[string]string{}
	for _, v := range vs {
		found[v.Key] = v.Status
	}
	if code != exitBadInput || found[edited] != integrity.StatusDigestInvalid || found[changed] != integrity.StatusLogModified {
		t.Fatalf("exit %d; edited digest %q, changed log %q; all: %v\n%s", code, found[edited], found[changed], statusCount(vs), stderr)
	}
}

// A backfill digest is not checked yet: it is named in the summary and the
// verification counts as incomplete (exit 1), never silently passed over.
func TestVerifyBackfillDigestIsReported(t *testing.T) {
	a := signedArchive(t)
	dir := a.Dir(t)
	d := a.Digests[0]
	backfill := strings.TrimSuffix(d, ".json.gz") + "_backfill.json.gz"
	if err := os.WriteFile(filepath.Join(dir, backfill), a.Files[d], 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runVerifyCLI(t, "-public-keys", a.WriteKeys(t), "-since", "2024-05-30", "-until", "2024-05-31", dir)
	if code != exitFailure || !strings.Contains(stderr, backfill) || !strings.Contains(stderr, "backfill digests are not checked yet") {
		t.Fatalf("exit %d, want 1 naming the backfill digest:\n%s", code, stderr)
	}
}

// Two accounts in one copy: each file gets its verdict once; the same
// account under a second prefix is refused instead of being judged twice
// by halves.
func TestVerifyAccountByAccount(t *testing.T) {
	a := trailsign.MustBuild(t, trailsign.Options{Corpus: corpus.Options{Seed: 9, Events: 300, OpsWorksShare: 0.3,
		EventsPerFile: 10, Accounts: []string{"111122223333", "444455556666"}, Regions: []string{"us-east-1"},
		Start: time.Date(2024, 5, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 30, 4, 0, 0, 0, time.UTC)}})
	dir := a.Dir(t)
	keys := a.WriteKeys(t)
	code, vs, stderr := runVerifyCLI(t, "-v", "-public-keys", keys, "-since", "2024-05-30", "-until", "2024-05-31", dir)
	c := statusCount(vs)
	if code != exitOK || c[integrity.StatusDigestUnsigned] != 2 || len(vs) != len(a.Files) {
		t.Fatalf("exit %d, %v, %d verdicts for %d files\n%s", code, c, len(vs), len(a.Files), stderr)
	}
	// One verdict per file, each account's newest digest unsigned (the
	// copy's week by week judgement sees every digest's successor), every
	// account found.
	seen := map[string]bool{}
	for _, v := range vs {
		seen[v.Key] = true
	}
	for k := range a.Files {
		if !seen[k] {
			t.Errorf("no verdict for %s", k)
		}
	}
	// The same account again under another prefix.
	if err := os.MkdirAll(filepath.Join(dir, "zz"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "AWSLogs", "111122223333"), filepath.Join(dir, "zz", "111122223333")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "zz", "AWSLogs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "zz", "111122223333"), filepath.Join(dir, "zz", "AWSLogs", "111122223333")); err != nil {
		t.Fatal(err)
	}
	copyTree(t, filepath.Join(dir, "AWSLogs", "444455556666"), filepath.Join(dir, "zz", "AWSLogs", "444455556666"))
	code, _, stderr = runVerifyCLI(t, "-public-keys", keys, "-since", "2024-05-30", "-until", "2024-05-31", dir)
	if code != exitFailure || !strings.Contains(stderr, "comes again after the listing had passed it") {
		t.Fatalf("an account under two prefixes: exit %d\n%s", code, stderr)
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		copyFile(t, p, filepath.Join(dst, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
