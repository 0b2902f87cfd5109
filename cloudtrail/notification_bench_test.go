package cloudtrail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkParseNotification parses every message of testdata/notifications
// once per iteration: "ok" are the accepted shapes, "bad" the rejected ones
// (whose error paths do more work). Bytes are message bytes.
func BenchmarkParseNotification(b *testing.B) {
	files, err := filepath.Glob(filepath.Join("testdata", "notifications", "*"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no notifications: %v", err)
	}
	var ok, bad [][]byte
	for _, p := range files {
		body, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		if strings.HasPrefix(filepath.Base(p), "bad-") {
			bad = append(bad, body)
		} else {
			ok = append(ok, body)
		}
	}
	for _, bc := range []struct {
		name    string
		bodies  [][]byte
		wantErr bool
	}{{"ok", ok, false}, {"bad", bad, true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(totalSize(bc.bodies))
			b.ReportAllocs()
			for b.Loop() {
				for _, body := range bc.bodies {
					if _, err := ParseNotification(body); (err != nil) != bc.wantErr {
						b.Fatalf("%s: unexpected error state: %v", body, err)
					}
				}
			}
		})
	}
}
