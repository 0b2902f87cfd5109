package integrity

import (
	"crypto/md5"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// PublicKeys are CloudTrail's digest signing keys by fingerprint
// (lower-case hex, as digestPublicKeyFingerprint spells it).
type PublicKeys map[string]*rsa.PublicKey

// Add parses a key as CloudTrail's ListPublicKeys returns it (Value: "the
// DER encoded public key value in PKCS#1 format"; the SDK decodes the
// wire's base64) and files it under fingerprint. Base64 text of the DER is
// accepted too (a key pasted from `aws cloudtrail list-public-keys`).
func (k PublicKeys) Add(fingerprint string, value []byte) error {
	pub, err := x509.ParsePKCS1PublicKey(value)
	if err != nil {
		der, b64err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(value)))
		if b64err != nil {
			return fmt.Errorf("public key %s: neither a PKCS #1 DER RSA public key nor base64 of one: %v", fingerprint, err)
		}
		if pub, err = x509.ParsePKCS1PublicKey(der); err != nil {
			return fmt.Errorf("public key %s: not a PKCS #1 RSA public key: %v", fingerprint, err)
		}
	}
	k[strings.ToLower(fingerprint)] = pub
	return nil
}

// ParsePublicKeysJSON reads what `aws cloudtrail list-public-keys` prints:
// {"PublicKeyList": [{"Value": base64 DER, "Fingerprint": hex, …}]}. Errors
// start with name (the file).
func (k PublicKeys) ParsePublicKeysJSON(name string, data []byte) error {
	var doc struct {
		PublicKeyList *[]struct {
			Value       string
			Fingerprint string
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: not the JSON of aws cloudtrail list-public-keys: %v", name, err)
	}
	if doc.PublicKeyList == nil {
		return fmt.Errorf("%s: no PublicKeyList (want the JSON of aws cloudtrail list-public-keys)", name)
	}
	for i, e := range *doc.PublicKeyList {
		der, err := base64.StdEncoding.DecodeString(e.Value)
		if err != nil {
			return fmt.Errorf("%s: PublicKeyList[%d].Value: not base64: %v", name, i, err)
		}
		if e.Fingerprint == "" {
			return fmt.Errorf("%s: PublicKeyList[%d].Fingerprint: missing", name, i)
		}
		if err := k.Add(e.Fingerprint, der); err != nil {
			return fmt.Errorf("%s: PublicKeyList[%d]: %v", name, i, err)
		}
	}
	return nil
}

// Fingerprint is how the tests (and a user's own keys) name a key: the hex
// MD5 of its PKCS #1 DER, the form CloudTrail's fingerprints take.
func Fingerprint(pub *rsa.PublicKey) string {
	sum := md5.Sum(x509.MarshalPKCS1PublicKey(pub))
	return hex.EncodeToString(sum[:])
}
