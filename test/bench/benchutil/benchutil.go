// Package benchutil holds what the benchmark tools under test/bench share:
// a MinIO filled with a generated archive, and the env file through which
// the tools hand addresses and credentials to their shell scripts.
package benchutil

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

// ServeArchive starts MinIO in data (emptied first), uploads every file of
// dir into bucket, and returns the server and the shell assignments that
// describe it (MINIO_ENDPOINT, MINIO_BUCKET, credentials, MINIO_BIN,
// MINIO_PID, UPLOAD_OBJECTS, UPLOAD_BYTES, UPLOAD_SECONDS).
func ServeArchive(data, dir, bucket string) (*s3test.Server, string, error) {
	if err := os.RemoveAll(data); err != nil {
		return nil, "", err
	}
	bin, err := s3test.EnsureMinIO(log.Printf)
	if err != nil {
		return nil, "", err
	}
	ctx := context.Background()
	srv, err := s3test.Start(ctx, bin, data)
	if err != nil {
		return nil, "", err
	}
	log.Printf("MinIO %s at %s", bin, srv.Endpoint)
	client := s3test.NewClient(srv.Endpoint, srv.AccessKey, srv.SecretKey)
	if err := s3test.CreateBucket(ctx, client, bucket); err != nil {
		srv.Close()
		return nil, "", err
	}
	start := time.Now()
	n, stored, err := s3test.UploadDir(ctx, client, bucket, dir)
	if err != nil {
		srv.Close()
		return nil, "", err
	}
	secs := time.Since(start).Seconds()
	log.Printf("uploaded %d objects (%d bytes) in %.1f s", n, stored, secs)
	env := fmt.Sprintf("MINIO_ENDPOINT=%q\nMINIO_BUCKET=%q\nMINIO_ACCESS_KEY=%q\nMINIO_SECRET_KEY=%q\nMINIO_REGION=%q\nMINIO_DATA=%q\n"+
		"MINIO_BIN=%q\nMINIO_PID=%d\nUPLOAD_OBJECTS=%d\nUPLOAD_BYTES=%d\nUPLOAD_SECONDS=%.3f\n",
		srv.Endpoint, bucket, srv.AccessKey, srv.SecretKey, srv.Region, srv.Dir, bin, srv.Pid(), n, stored, secs)
	return srv, env, nil
}

// PublishAndWait writes env to envFile (last, and renamed into place: the
// script waits for the file to appear) and then blocks until SIGINT or
// SIGTERM, keeping the servers up for the script.
func PublishAndWait(envFile, env string) error {
	if err := os.WriteFile(envFile+".tmp", []byte(env), 0o600); err != nil {
		return err
	}
	if err := os.Rename(envFile+".tmp", envFile); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return nil
}
