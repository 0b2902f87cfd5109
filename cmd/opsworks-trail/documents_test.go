package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/input"
)

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

func TestDocScanner(t *testing.T) {
	pretty := "{\n  \"Records\": [\n    {\n      \"eventSource\": \"x\"\n    }\n  ]\n}\n"
	cases := []struct {
		name  string
		input []byte
		docs  []string
		lines []int
	}{
		{"one compact", []byte(`{"Records":[{"a":1}]}`), []string{`{"Records":[{"a":1}]}`}, []int{1}},
		{"one pretty", []byte(pretty), []string{strings.TrimSpace(pretty)}, []int{1}},
		{"ndjson", []byte("{\"a\":1}\n{\"b\":2}\n\n{\"c\":3}\n"), []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}, []int{1, 2, 4}},
		{"in a row", []byte(`{"a":1}{"b":[2]} {"c":3}`), []string{`{"a":1}`, `{"b":[2]}`, `{"c":3}`}, []int{1, 1, 1}},
		{"cat of pretty", []byte(pretty + pretty), []string{strings.TrimSpace(pretty), strings.TrimSpace(pretty)}, []int{1, 8}},
		{"braces in strings", []byte(`{"a":"}{\"]"}` + "\n" + `{"b":"\\"}`), []string{`{"a":"}{\"]"}`, `{"b":"\\"}`}, []int{1, 2}},
		{"truncated line", []byte("{\"a\":[1,\n{\"b\":2}\n"), []string{"{\"a\":[1,\n", `{"b":2}`}, []int{1, 2}},
		{"text", []byte("not json\n{\"b\":2}"), []string{"not json", `{"b":2}`}, []int{1, 2}},
		{"gzip members", append(gz(t, `{"a":1}`), gz(t, `{"b":2}`)...), []string{`{"a":1}`, `{"b":2}`}, []int{1, 1}},
		{"empty", []byte("  \n"), nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newDocScanner(bytes.NewReader(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			var docs []string
			var lines []int
			for {
				d, line, _, err := s.next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				docs, lines = append(docs, string(d)), append(lines, line)
			}
			if strings.Join(docs, "|") != strings.Join(tc.docs, "|") || len(lines) != len(tc.lines) {
				t.Fatalf("docs %q, want %q", docs, tc.docs)
			}
			for i := range lines {
				if lines[i] != tc.lines[i] {
					t.Fatalf("lines %v, want %v", lines, tc.lines)
				}
			}
		})
	}
}

// `cat a.json.gz b.json.gz | opsworks-trail`: both log files' events, in
// order, exit 0 (it used to fail with "unexpected '{' after the end of the
// document" and echo the whole input back).
func TestConcatenatedGzipOnStdin(t *testing.T) {
	dir := "testdata/trail/AWSLogs/111122223333/CloudTrail/us-east-1/2021/03/04/"
	a, err := os.ReadFile(dir + "111122223333_CloudTrail_us-east-1_20210304T0000Z_aaaa.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dir + "111122223333_CloudTrail_us-east-1_20210304T0005Z_bbbb.json")
	if err != nil {
		t.Fatal(err)
	}
	single := 0
	for _, f := range []string{"aaaa.json.gz", "bbbb.json"} {
		code, lines, stderr := runCLI(t, "", filepath.Join(dir, "111122223333_CloudTrail_us-east-1_2021030"+map[bool]string{true: "4T0000Z_", false: "4T0005Z_"}[f[0] == 'a']+f))
		if code != exitOK || len(lines) == 0 {
			t.Fatalf("%s alone: exit %d\n%s", f, code, stderr)
		}
		single += len(lines)
	}
	var cat bytes.Buffer
	cat.Write(a)
	cat.Write(gz(t, string(b)))
	code, lines, stderr := runCLI(t, cat.String(), "-")
	if code != exitOK || len(lines) != single || strings.Contains(stderr, "error:") {
		t.Fatalf("concatenated: exit %d, %d events (want %d)\n%s", code, len(lines), single, stderr)
	}
	if !strings.Contains(stderr, "2 documents") {
		t.Fatalf("summary: %s", stderr)
	}
}

func TestProgressLine(t *testing.T) {
	st := input.Stats{ObjectsListed: 40, ObjectsCommitted: 10, BytesRead: 25e6, BytesListed: 100e6, EventsKept: 5, EventsSeen: 500}
	cases := []struct {
		name    string
		done    bool
		elapsed time.Duration
		want    string
	}{
		{"listing", false, 10 * time.Second, "src: listing, 40 objects so far, 10 done, 5/500 events kept, 25.0 MB read (2.5 MB/s)"},
		{"listed", true, 10 * time.Second, "src: 10/40 objects, 25.0/100.0 MB (25%), 5/500 events kept, 2.5 MB/s, ETA 30s"},
	}
	for _, tc := range cases {
		st.ListingDone = tc.done
		if got := progressLine("src", st, tc.elapsed); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	if got := progressLine("src", input.Stats{ListingDone: true}, time.Second); strings.Contains(got, "ETA") || strings.Contains(got, "behind") {
		t.Errorf("empty run: %s", got)
	}
}
