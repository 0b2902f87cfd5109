package s3test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// CA is a private certificate authority made for one test, and a server
// certificate it issued.
type CA struct {
	PEM             []byte // the CA certificate (AWS_CA_BUNDLE)
	CertPEM, KeyPEM []byte // the server's certificate and key
	Pool            *x509.CertPool
}

// NewCA makes a CA and a server certificate for hosts (names or IPs).
func NewCA(t testing.TB, hosts ...string) *CA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "opsworks-trail test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), Pool: x509.NewCertPool()}
	ca.Pool.AddCert(caCert)
	return ca
}

// MinIOTLS starts MinIO serving HTTPS with ca's server certificate (which
// must name 127.0.0.1 and the host names clients use); Endpoint is
// https://127.0.0.1:PORT.
func MinIOTLS(t testing.TB, ca *CA) *Server {
	t.Helper()
	bin, err := FindMinIO()
	if err != nil {
		if os.Getenv(RequireMinIOEnv) != "" {
			t.Fatalf("s3test: MinIO is required (%s is set) but unavailable: %v", RequireMinIOEnv, err)
		}
		t.Skipf("s3test: MinIO unavailable: %v", err)
	}
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certs, "public.crt"), ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certs, "private.key"), ca.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := startWith(t, bin, dir, ca.Pool)
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// ConnectProxy is an HTTPS proxy on loopback (HTTP CONNECT) that resolves
// names itself: Go never proxies loopback addresses, so a test gives a
// server a made-up name that only this proxy knows.
type ConnectProxy struct {
	URL   string
	mu    sync.Mutex
	hosts map[string]string // name:port → address
	seen  []string          // CONNECT targets, in order
}

// NewConnectProxy starts a proxy that sends CONNECT name:port to hosts[name:port].
func NewConnectProxy(t testing.TB, hosts map[string]string) *ConnectProxy {
	p := &ConnectProxy{hosts: hosts}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Seen returns the CONNECT targets asked for so far.
func (p *ConnectProxy) Seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func (p *ConnectProxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.seen = append(p.seen, r.Host)
	addr, ok := p.hosts[r.Host]
	p.mu.Unlock()
	if r.Method != http.MethodConnect || !ok {
		http.Error(w, "unknown host "+r.Host, http.StatusBadGateway)
		return
	}
	up, err := net.Dial("tcp", addr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		up.Close()
		return
	}
	_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	go func() { _, _ = io.Copy(up, bufio.NewReader(io.MultiReader(buf, conn))); up.Close() }()
	_, _ = io.Copy(conn, up)
	conn.Close()
}
