package s3test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/opsworks-trail/opsworks-trail/test/corpus"
)

// UploadParallelism is how many PutObject calls the upload helpers run at
// once: enough to keep a local server busy, few enough not to exhaust
// loopback ports with TIME_WAIT connections.
const UploadParallelism = 16

// CreateBucket creates a bucket (no location constraint: us-east-1).
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if err := CreateBucket(context.Background(), s.Client(t), name); err != nil {
		t.Fatal(err)
	}
}

// PutObject stores body under key.
func (s *Server) PutObject(t testing.TB, bucket, key string, body []byte) {
	t.Helper()
	if err := PutObject(context.Background(), s.Client(t), bucket, key, body); err != nil {
		t.Fatal(err)
	}
}

// PutObjectSSE stores body under key with SSE-S3 (x-amz-server-side-encryption:
// AES256), as buckets with default encryption hold CloudTrail files. Reading
// it back needs nothing special: the server decrypts.
func (s *Server) PutObjectSSE(t testing.TB, bucket, key string, body []byte) {
	t.Helper()
	_, err := s.Client(t).PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ServerSideEncryption: types.ServerSideEncryptionAes256,
	})
	if err != nil {
		t.Fatalf("put s3://%s/%s with SSE-S3: %v", bucket, key, err)
	}
}

// DeleteObject removes key (no error if it does not exist, as in S3).
func (s *Server) DeleteObject(t testing.TB, bucket, key string) {
	t.Helper()
	_, err := s.Client(t).DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("delete s3://%s/%s: %v", bucket, key, err)
	}
}

// UploadArchive uploads CloudTrail log files (see UploadFiles) and returns
// their total uncompressed size.
func (s *Server) UploadArchive(t testing.TB, bucket string, files []corpus.File, gzip bool) (bytesUncompressed int64) {
	t.Helper()
	n, err := UploadFiles(context.Background(), s.Client(t), bucket, files, gzip)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// CreateBucket creates a bucket with any S3 client.
func CreateBucket(ctx context.Context, client *s3.Client, name string) error {
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// PutObject stores body under key with any S3 client.
func PutObject(ctx context.Context, client *s3.Client, bucket, key string, body []byte) error {
	_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// UploadFiles puts log files into bucket, UploadParallelism at a time. With
// gzip the bodies are compressed (as CloudTrail stores them) under their
// .json.gz keys; without, they are stored as JSON under .json keys, as
// corpus.WriteArchive names plain files. It returns the uncompressed bytes.
func UploadFiles(ctx context.Context, client *s3.Client, bucket string, files []corpus.File, gzip bool) (int64, error) {
	var total atomic.Int64
	err := forEach(ctx, len(files), UploadParallelism, func(ctx context.Context, i int) error {
		key, body, err := storedForm(files[i], gzip)
		if err != nil {
			return err
		}
		total.Add(int64(len(files[i].Body)))
		return PutObject(ctx, client, bucket, key, body)
	})
	return total.Load(), err
}

// storedForm is the key and body a file is uploaded (or written) with.
func storedForm(f corpus.File, gz bool) (key string, body []byte, err error) {
	if !gz {
		return strings.TrimSuffix(f.Key, ".gz"), f.Body, nil
	}
	body, err = Gzip(f.Body, f.Time)
	return f.Key, body, err
}

// UploadDir uploads every regular file under dir, keyed by its
// slash-separated path relative to dir (a local copy of a bucket becomes
// that bucket again), and returns the objects and bytes stored.
func UploadDir(ctx context.Context, client *s3.Client, bucket, dir string) (objects int, stored int64, err error) {
	var paths []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	var total atomic.Int64
	err = forEach(ctx, len(paths), UploadParallelism, func(ctx context.Context, i int) error {
		body, err := os.ReadFile(paths[i])
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, paths[i])
		if err != nil {
			return err
		}
		total.Add(int64(len(body)))
		return PutObject(ctx, client, bucket, filepath.ToSlash(rel), body)
	})
	return len(paths), total.Load(), err
}

// forEach calls fn for 0..n-1 on up to workers goroutines and returns the
// first error, after which no new calls start (ctx is canceled for the
// ones running).
func forEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}
