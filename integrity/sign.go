package integrity

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// StringToSign is what CloudTrail signs for a digest whose uncompressed
// bytes hash to digestSHA256: digestEndTime, "\n", bucket "/" object, "\n",
// the hex hash, "\n", previousDigestSignature (null at a chain start).
func StringToSign(d *Digest, digestSHA256 [32]byte) string {
	return d.DigestEndTime + "\n" + d.DigestS3Bucket + "/" + d.DigestS3Object + "\n" +
		hex.EncodeToString(digestSHA256[:]) + "\n" + d.previousSignature()
}

// checkSignature verifies a hex SHA256withRSA (PKCS #1 v1.5) signature.
func checkSignature(pub *rsa.PublicKey, stringToSign, signatureHex string) error {
	sig, err := hex.DecodeString(signatureHex)
	if err != nil {
		return fmt.Errorf("the signature is not hex")
	}
	sum := sha256.Sum256([]byte(stringToSign))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("the signature does not match the digest")
	}
	return nil
}

// Sign is CloudTrail's side, for tests and tools that build digests: the
// hex signature of d (whose uncompressed bytes hash to digestSHA256).
func Sign(key *rsa.PrivateKey, d *Digest, digestSHA256 [32]byte) (string, error) {
	sum := sha256.Sum256([]byte(StringToSign(d, digestSHA256)))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sig), nil
}
