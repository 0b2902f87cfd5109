package trailsign

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

// FakeCloudTrail is a CloudTrail endpoint on loopback that answers
// ListPublicKeys (AWS JSON 1.1) with the archive's public key; point
// AWS_ENDPOINT_URL_CLOUDTRAIL at its URL. Like CloudTrail, it returns no
// key for a call without a time range (CloudTrail then returns only the
// current key, and keys rotate): callers must ask for their digests' span.
func FakeCloudTrail(t testing.TB, a *Archive) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".ListPublicKeys") {
			http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
			return
		}
		var in struct{ StartTime, EndTime float64 }
		_ = json.Unmarshal(body, &in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if in.StartTime == 0 || in.EndTime <= in.StartTime {
			_, _ = w.Write([]byte(`{"PublicKeyList":[]}`))
			return
		}
		// list-public-keys prints times as text; the API sends epoch seconds.
		var keys struct {
			PublicKeyList []struct{ Value, Fingerprint string }
		}
		_ = json.Unmarshal(a.KeysJSON, &keys)
		var list []map[string]any
		for _, k := range keys.PublicKeyList {
			list = append(list, map[string]any{"Value": k.Value, "Fingerprint": k.Fingerprint,
				"ValidityStartTime": 1.3885344e9, "ValidityEndTime": 2.0e9})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"PublicKeyList": list})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// WriteKeys writes the archive's public key, as `aws cloudtrail
// list-public-keys` prints it, to keys.json in a new temporary directory
// and returns its path (public_keys_file, -public-keys).
func (a *Archive) WriteKeys(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(p, a.KeysJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// MustBuild is Build for tests: it fails t on an error.
func MustBuild(t testing.TB, o Options) *Archive {
	t.Helper()
	a, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Dir writes the archive as a local copy (no metadata, as `aws s3 sync`
// leaves it) into a new temporary directory and returns it.
func (a *Archive) Dir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := a.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// InMinIO starts a MinIO server for the test with the archive uploaded to
// a.Bucket, digests with their CloudTrail metadata (the signature).
func (a *Archive) InMinIO(t testing.TB) *s3test.Server {
	t.Helper()
	srv := s3test.MinIO(t)
	srv.CreateBucket(t, a.Bucket)
	if err := a.Upload(context.Background(), srv.Client(t), 8); err != nil {
		t.Fatal(err)
	}
	return srv
}
