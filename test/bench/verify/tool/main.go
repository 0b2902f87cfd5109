// Command tool sets up the verify benchmark (test/bench/verify/run.sh): a
// signed CloudTrail archive (test/trailsign) uploaded to a MinIO server with
// its digests' signature metadata, and a loopback CloudTrail endpoint that
// answers ListPublicKeys with the archive's key. It writes the environment
// both verifiers need to DIR/env and serves until it is stopped.
//
//	go run ./test/bench/verify/tool DIR DAYS
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
	"github.com/opsworks-trail/opsworks-trail/test/trailsign"
)

const bucket = "trail"

func main() {
	if len(os.Args) != 4 {
		log.Fatal("usage: tool DIR DAYS LATENCY")
	}
	latency, err := time.ParseDuration(os.Args[3])
	if err != nil {
		log.Fatalf("LATENCY: %v", err)
	}
	dir := os.Args[1]
	days, err2 := strconv.Atoi(os.Args[2])
	err = err2
	if err != nil || days < 1 {
		log.Fatalf("DAYS: %q", os.Args[2])
	}
	end := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	start := end.AddDate(0, 0, -days)
	a, err := trailsign.Build(trailsign.Options{Bucket: bucket, Corpus: corpus.Options{Seed: 3, Events: days * 288 * 12,
		OpsWorksShare: 0.02, EventsPerFile: 12, Accounts: []string{"111122223333"}, Regions: []string{"us-east-1"},
		Start: start, End: end}})
	if err != nil {
		log.Fatal(err)
	}
	bin, err := s3test.EnsureMinIO(log.Printf)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	srv, err := s3test.Start(ctx, bin, filepath.Join(dir, "minio"))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client := s3test.NewClient(srv.Endpoint, srv.AccessKey, srv.SecretKey)
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		log.Fatal(err)
	}
	if err := a.Upload(ctx, client, 16); err != nil {
		log.Fatal(err)
	}

	var doc struct {
		PublicKeyList []struct{ Value, Fingerprint string }
	}
	_ = json.Unmarshal(a.KeysJSON, &doc)
	ct := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var list []map[string]any
		for _, k := range doc.PublicKeyList {
			list = append(list, map[string]any{"Value": k.Value, "Fingerprint": k.Fingerprint,
				"ValidityStartTime": 1388534400, "ValidityEndTime": 2000000000})
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]any{"PublicKeyList": list})
	}))
	defer ct.Close()
	target, _ := url.Parse(srv.Endpoint)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		out := r.Clone(r.Context()) // keeps the client's Host: the SigV4 signature stays valid
		out.URL.Scheme, out.URL.Host, out.RequestURI = "http", target.Host, ""
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vv := range resp.Header {
			// S3 sends metadata headers in lower case and botocore keeps the
			// case of the name after x-amz-meta- (Go canonicalised it).
			if strings.HasPrefix(strings.ToLower(k), "x-amz-meta-") {
				k = strings.ToLower(k)
			}
			w.Header()[k] = vv
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	defer slow.Close()
	if err := os.WriteFile(filepath.Join(dir, "keys.json"), a.KeysJSON, 0o644); err != nil {
		log.Fatal(err)
	}
	env := fmt.Sprintf("export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_EC2_METADATA_DISABLED=true "+
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_ENDPOINT_URL_S3=%s AWS_ENDPOINT_URL_CLOUDTRAIL=%s\n"+
		"MINIO=%s SLOW=%s START=%s END=%s LOGS=%d DIGESTS=%d\n", srv.AccessKey, srv.SecretKey, srv.Endpoint, ct.URL, srv.Endpoint, slow.URL,
		start.Format(time.RFC3339), end.Format(time.RFC3339), len(a.Logs), len(a.Digests))
	if err := os.WriteFile(filepath.Join(dir, "env.tmp"), []byte(env), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "env.tmp"), filepath.Join(dir, "env")); err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
