package integrity_test

import (
	"crypto/rsa"
	"crypto/x509"
)

func x509PKCS1(pub *rsa.PublicKey) []byte { return x509.MarshalPKCS1PublicKey(pub) }
