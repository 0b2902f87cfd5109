package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
)

// gets measures what one GetObject costs the client, without anything
// the input does with the body (gunzip, split, records): every object of
// $MINIO_BUCKET at $MINIO_ENDPOINT is fetched by 4 workers (the input's
// default) and its body read and dropped, either through the S3 client the
// input builds (-client sdk: cloudtrail.NewS3Client, the SDK's middleware
// stack) or through plain net/http on the same HTTP client with the SDK's
// SigV4 signer (-client plain). It prints the process's CPU (user +
// system, from getrusage) per GET: their difference is what the SDK's
// middleware costs per object. The listing is not counted.
func gets(args []string) error {
	fs := flag.NewFlagSet("gets", flag.ExitOnError)
	client := fs.String("client", "sdk", "sdk (the input's S3 client) or plain (net/http + the SDK's SigV4 signer)")
	workers := fs.Int("workers", 4, "parallel GETs")
	fs.Parse(args)
	ctx := context.Background()
	endpoint, bucket, region := os.Getenv("MINIO_ENDPOINT"), os.Getenv("MINIO_BUCKET"), os.Getenv("MINIO_REGION")
	opts := cloudtrail.S3ClientOptions{Region: region, Endpoint: endpoint, ForcePathStyle: true, MaxRetries: 3}
	api, err := cloudtrail.NewS3Client(ctx, opts)
	if err != nil {
		return err
	}
	sc := api.(*s3.Client)
	var keys []string
	p := s3.NewListObjectsV2Paginator(sc, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	awsCfg, err := cloudtrail.NewAWSConfig(ctx, opts.AWSOptions())
	if err != nil {
		return err
	}
	creds, err := awsCfg.Credentials.Retrieve(ctx)
	if err != nil {
		return err
	}
	signer, hc := v4.NewSigner(), awsCfg.HTTPClient
	sum := sha256.Sum256(nil)
	emptyHash := hex.EncodeToString(sum[:])
	get := func(key string) (io.ReadCloser, error) {
		if *client == "sdk" {
			out, err := sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				return nil, err
			}
			return out.Body, nil
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/"+bucket+"/"+(&url.URL{Path: key}).EscapedPath(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-Amz-Content-Sha256", emptyHash)
		if err := signer.SignHTTP(ctx, creds, req, emptyHash, "s3", region, time.Now()); err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("GET %s: %s", key, resp.Status)
		}
		return resp.Body, nil
	}
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	jobs := make(chan string)
	errs := make(chan error, *workers)
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for key := range jobs {
				body, err := get(key)
				if err != nil {
					errs <- err
					return
				}
				_, err = io.CopyBuffer(io.Discard, body, buf)
				body.Close()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for _, k := range keys {
		jobs <- k
	}
	close(jobs)
	wg.Wait()
	wall := time.Since(start)
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	select {
	case err := <-errs:
		return err
	default:
	}
	user := time.Duration(after.Utime.Nano() - before.Utime.Nano())
	sys := time.Duration(after.Stime.Nano() - before.Stime.Nano())
	fmt.Printf("GETS_CLIENT=%s GETS_OBJECTS=%d GETS_WALL=%.3f GETS_USER=%.3f GETS_SYS=%.3f GETS_US_PER_GET=%.0f\n", *client, len(keys),
		wall.Seconds(), user.Seconds(), sys.Seconds(), float64((user+sys).Microseconds())/float64(len(keys)))
	return nil
}
