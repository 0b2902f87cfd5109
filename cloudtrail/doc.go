// Package cloudtrail is the library under the cloudtrail_s3 input and the
// CLI: it knows CloudTrail's S3 key layout, lists an archive (an S3 bucket or a
// local copy of one) a day prefix at a time, reads one log file with a cheap
// eventSource push-down, and keeps durable checkpoints. Everything here is
// plain Go, testable without Fluent Bit.
//
// The pieces, in the order the input uses them (Example shows the loop):
//
//   - ParseKey, DayPrefix, NormalizePrefix: CloudTrail's key layout. A
//     Stream (organization, account, region, kind of file) is the unit that
//     is listed in order and checkpointed.
//   - S3Lister, DirLister: list every stream inside a time window, in key
//     (= delivery time) order, touching only the day prefixes of the window.
//   - Checkpoint: Begin when an object is taken, Commit once Fluent Bit has
//     accepted its records; StreamStart tells the lister where to resume.
//   - ObjectReader: read one object (gzip or plain, size-bounded), split its
//     Records and keep the events of the configured eventSources. Failures
//     are *ObjectError; Retryable says which are worth retrying.
//   - NewS3Client, NewSQSClient: AWS clients from their own option
//     structs, all (with STS and CloudTrail's ListPublicKeys) configured by
//     NewAWSConfig, the one place the AWS configuration and its HTTP
//     client are built; ParseNotification: what an SQS message announces.
//
// It knows nothing of Fluent Bit or of the running input: package input
// composes these pieces into the engine.
package cloudtrail
