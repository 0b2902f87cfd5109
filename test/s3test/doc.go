// Package s3test is test infrastructure for code that reads CloudTrail
// archives from S3:
//
//   - MinIO starts a real MinIO server on 127.0.0.1 for one test (the binary,
//     pinned at MinIOVersion, is installed by `make test-deps` through
//     EnsureMinIO; tests only look it up), with helpers to create
//     buckets and upload generated archives (see package test/corpus).
//   - FaultProxy sits in front of any S3 endpoint (MinIO, gofakes3) and
//     injects the failures S3 produces in practice: throttling, 5xx, denied
//     access, archived objects, connections reset before or during a
//     response.
//   - OptionsForSize and WriteSizedArchive build archives of a target
//     uncompressed size (up to the 10 GB of the backfill benchmark) without
//     holding them in memory.
//
// Everything speaks path-style S3 (http://127.0.0.1:PORT/BUCKET/KEY), which
// is what local servers need and what NewClient configures.
package s3test
