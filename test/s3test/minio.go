package s3test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opsworks-trail/opsworks-trail/test/internal/proc"
)

// readyTimeout is how long a fresh MinIO may take to answer its readiness
// probe (well under a second on an idle machine; generous for loaded CI).
const readyTimeout = 60 * time.Second

// Server is a running MinIO server on 127.0.0.1.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string // the root user, random per server
	SecretKey string // the root password, random per server
	Region    string // always Region ("us-east-1")
	Dir       string // data (Dir/data) and certificates (Dir/certs)

	cmd     *exec.Cmd
	roots   *x509.CertPool // HTTPS: the CA of its certificate
	output  *proc.TailBuffer
	exited  chan struct{} // closed when the process has been waited for
	waitErr error
	stop    sync.Once
}

// MinIO starts a MinIO server for the test and stops it when the test ends.
// The binary is looked up by FindMinIO (`make test-deps` installs it); when
// there is none the test is skipped, or fails if RequireMinIOEnv is set (as
// `make test` sets it). With -short the test is skipped unless
// RequireMinIOEnv is set.
func MinIO(t testing.TB) *Server {
	t.Helper()
	required := os.Getenv(RequireMinIOEnv) != ""
	if testing.Short() && !required {
		t.Skipf("s3test: MinIO tests do not run with -short (set %s to force them)", RequireMinIOEnv)
	}
	bin, err := FindMinIO()
	if err != nil {
		if required {
			t.Fatalf("s3test: MinIO is required (%s is set) but unavailable: %v", RequireMinIOEnv, err)
		}
		t.Skipf("s3test: MinIO unavailable, skipping (set %s to make this a failure): %v", RequireMinIOEnv, err)
	}
	s, err := Start(context.Background(), bin, t.TempDir())
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("s3test: stopping MinIO: %v", err)
		}
	})
	return s
}

// Start runs bin (a minio binary) as a single-drive server under dir on a
// free loopback port and waits until it is ready. The caller must Close it.
// Outside tests (the S3 benchmark) this is the whole API.
func Start(ctx context.Context, bin, dir string) (*Server, error) {
	var err error
	// A port picked free can be taken before MinIO binds it; that shows up
	// as an early exit, and a second port almost surely works.
	for attempt := 0; attempt < 3; attempt++ {
		var s *Server
		if s, err = start(ctx, bin, dir); err == nil || !errors.Is(err, errExited) {
			return s, err
		}
	}
	return nil, err
}

// errExited is MinIO exiting before it became ready.
var errExited = errors.New("minio exited")

func start(ctx context.Context, bin, dir string) (*Server, error) {
	return startTLS(ctx, bin, dir, nil)
}

// startWith starts a server whose certificates are in dir/certs already
// (HTTPS, trusted through roots), retrying a port taken meanwhile.
func startWith(t testing.TB, bin, dir string, roots *x509.CertPool) (*Server, error) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var s *Server
		if s, err = startTLS(context.Background(), bin, dir, roots); err == nil || !errors.Is(err, errExited) {
			return s, err
		}
	}
	return nil, err
}

// startTLS starts the server; with roots, it serves HTTPS (certificates in
// dir/certs) and the readiness probe trusts roots.
func startTLS(ctx context.Context, bin, dir string, roots *x509.CertPool) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	scheme := "http"
	if roots != nil {
		scheme = "https"
	}
	s := &Server{
		roots:     roots,
		Endpoint:  fmt.Sprintf("%s://127.0.0.1:%d", scheme, port),
		AccessKey: "s3test-" + randomHex(6),
		SecretKey: randomHex(20),
		Region:    Region,
		Dir:       dir,
		output:    &proc.TailBuffer{Max: 16 << 10},
		exited:    make(chan struct{}),
	}
	if err := s.launch(bin, port); err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("MinIO at %s did not become ready: %w\n--- minio output ---\n%s", s.Endpoint, err, s.output)
	}
	return s, nil
}

// launch starts the process. The console is off (MINIO_BROWSER) and the
// update check too, so a test server opens one port and makes no outbound
// connection. MINIO_KMS_SECRET_KEY gives it a static key, which is all
// SSE-S3 needs.
func (s *Server) launch(bin string, port int) error {
	data, certs := filepath.Join(s.Dir, "data"), filepath.Join(s.Dir, "certs")
	for _, d := range []string{data, certs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	s.cmd = exec.Command(bin, "server", "--address", fmt.Sprintf("127.0.0.1:%d", port), "--certs-dir", certs, data)
	s.cmd.Env = append(environWithout("MINIO_"),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_REGION="+Region,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_KMS_SECRET_KEY=s3test-key:"+randomBase64(32),
	)
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	proc.OwnProcessGroup(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	return nil
}

// waitReady polls MinIO's readiness probe, which answers 200 once the
// server accepts S3 requests.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	if s.roots != nil {
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots}}
	}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/minio/health/ready", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%w: %v", errExited, s.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close kills the server's process group and waits for it. The data is
// throwaway, so there is no graceful shutdown to wait for.
func (s *Server) Close() error {
	var err error
	s.stop.Do(func() { err = proc.Kill("minio", s.cmd, s.exited) })
	return err
}

// Pid is the server's process ID (to measure its CPU time, for example).
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Output is the end of the server's log (for failure messages).
func (s *Server) Output() string { return s.output.String() }

// Client is an S3 client for the server (see NewClient); optFns are
// applied last (FastRetries, for example).
func (s *Server) Client(t testing.TB, optFns ...func(*s3.Options)) *s3.Client {
	t.Helper()
	if s.roots != nil { // HTTPS with a test CA: trust it
		roots := s.roots
		optFns = append([]func(*s3.Options){func(o *s3.Options) {
			o.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
		}}, optFns...)
	}
	return NewClient(s.Endpoint, s.AccessKey, s.SecretKey, optFns...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// environWithout is the environment minus variables with a prefix: a
// developer's MINIO_* settings (KMS, TLS, root credentials) must not change
// the test server.
func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return b
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

func randomBase64(n int) string { return base64.StdEncoding.EncodeToString(randomBytes(n)) }
