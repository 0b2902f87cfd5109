package integrity

import (
	"testing"
)

// ParseDigest never panics, and what it accepts has the fields the checks
// rely on.
func FuzzParseDigest(f *testing.F) {
	f.Add([]byte(`{"digestStartTime":"2024-05-30T00:00:17Z","digestEndTime":"2024-05-30T01:00:17Z","digestS3Bucket":"b","digestS3Object":"AWSLogs/x","digestPublicKeyFingerprint":"ab","digestSignatureAlgorithm":"SHA256withRSA","previousDigestSignature":null,"logFiles":[]}`))
	f.Add([]byte(`{"digestStartTime":"2024-05-30T00:00:17Z","digestEndTime":"2024-05-30T01:00:17Z","digestS3Bucket":"b","digestS3Object":"o","digestPublicKeyFingerprint":"ab","digestSignatureAlgorithm":"SHA256withRSA","previousDigestS3Object":"p","previousDigestHashAlgorithm":"SHA-256","logFiles":[{"s3Object":"k","hashAlgorithm":"SHA-256","hashValue":"0000000000000000000000000000000000000000000000000000000000000000"}]}`))
	f.Add([]byte(`{"logFiles":[{}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDigest(data)
		if err != nil {
			return
		}
		if !d.End().After(d.Start()) || d.DigestS3Object == "" || d.DigestSignatureAlgorithm != "SHA256withRSA" {
			t.Fatalf("accepted an incomplete digest: %+v", d)
		}
		_ = StringToSign(d, [32]byte{})
	})
}
