// Package integrity checks CloudTrail log file integrity: the hourly digest
// files CloudTrail delivers with log file validation on, their signatures
// (SHA256withRSA), the chain that links each digest to the previous one, and
// the SHA-256 of every log file they list. It reports, per file, one of the
// statuses below (exactly these strings; see the README's "Integrity").
//
// The checks follow AWS's "CloudTrail digest file structure" and "Custom
// implementations of CloudTrail log file integrity validation", and
// aws-cli's awscli/customizations/cloudtrail/validation.py, with two
// additions the AWS CLI lacks: log files that no digest names are reported
// (log_unreferenced, a file slipped in), and copies without S3 metadata (an
// `aws s3 sync`) are still verified, with the signature each digest's
// successor carries as previousDigestSignature.
//
// Index judges: digests are added and sealed first, then each log file is
// judged from its hash as it is read, then the files the digests name and
// that were not there are log_missing. Checker drives an Index over a
// listing, a week of a stream at a time, for the CLI's verify and the
// cloudtrail_s3 input alike: they list and read the log files, the Checker
// lists and reads each week's digests and fetches the public keys.
package integrity
