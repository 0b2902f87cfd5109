package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/integrity"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/debpkg"
	"github.com/opsworks-trail/opsworks-trail/test/trailsign"
)

// printed runs print over the sources and counts, from its records, what
// the report must show.
type expectation struct {
	events    int
	byVariant map[string]int
	failed    int
}

func expect(t *testing.T, args ...string) expectation {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(append([]string{"-q", "-progress", "off"}, args...), strings.NewReader(""), &out, &errb); code != exitOK {
		t.Fatalf("print: exit %d\n%s", code, errb.String())
	}
	e := expectation{byVariant: map[string]int{}}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		v, _ := r["opsworks_variant"].(string)
		if v == "" {
			continue
		}
		e.events++
		e.byVariant[v]++
		if r["errorCode"] != nil {
			e.failed++
		}
	}
	return e
}

func writeTestReport(t *testing.T, args ...string) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.html")
	var out, errb bytes.Buffer
	code := run(append([]string{"report", "-q", "-progress", "off", "-o", path}, args...), strings.NewReader(""), &out, &errb)
	if code != exitOK && code != exitBadInput {
		t.Fatalf("report: exit %d\n%s", code, errb.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, string(b)
}

var dataCount = regexp.MustCompile(`data-(variant|status)="([a-z_]+)" data-count="(\d+)"`)

// counts reads the report's counts by product and by integrity status.
func counts(html string) map[string]int {
	out := map[string]int{}
	for _, m := range dataCount.FindAllStringSubmatch(html, -1) {
		n, _ := strconv.Atoi(m[3])
		out[m[2]] = n
	}
	return out
}

func attr(t *testing.T, html, re string) int {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no %s in the report", re)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// The report shows what print finds: the events by product and the failed
// calls of the bundled sample trail and of a generated archive; no network
// resource is referenced.
func TestReportCounts(t *testing.T) {
	dir := t.TempDir()
	o := corpus.Options{Seed: 81, Events: 3000, OpsWorksShare: 0.3, EventsPerFile: 30, Start: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC),
		End: time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := corpus.WriteArchive(dir, o, true); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"sample trail": filepath.Join("..", "..", "examples", "sample-trail"), "generated archive": dir} {
		t.Run(name, func(t *testing.T) {
			want := expect(t, src)
			_, html := writeTestReport(t, src)
			got := counts(html)
			for v, n := range want.byVariant {
				if got[v] != n {
					t.Errorf("%s: %d events in the report, %d printed", v, got[v], n)
				}
			}
			if n := attr(t, html, `id="events" data-count="(\d+)"`); n != want.events || n == 0 {
				t.Errorf("%d events in the report, %d printed", n, want.events)
			}
			if n := attr(t, html, `id="failed" data-total="(\d+)"`); n != want.failed {
				t.Errorf("%d failed calls in the report, %d printed", n, want.failed)
			}
			if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(html) {
				t.Error("the report references a network resource")
			}
		})
	}
}

// With -input validate_integrity=on the report carries the verdicts: a
// deleted log file is a log_missing finding.
func TestReportIntegrity(t *testing.T) {
	a := trailsign.MustBuild(t, trailsign.Options{Corpus: corpus.Options{Seed: 82, Events: 300, OpsWorksShare: 0.5, EventsPerFile: 10,
		Accounts: []string{"111122223333"}, Regions: []string{"us-east-1"},
		Start: time.Date(2024, 5, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 30, 5, 0, 0, 0, time.UTC)}})
	dir := a.Dir(t)
	for k := range a.Files {
		if strings.Contains(k, "/CloudTrail/") {
			if err := os.Remove(filepath.Join(dir, k)); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	_, html := writeTestReport(t, "-input", "validate_integrity=on", "-input", "public_keys_file="+a.WriteKeys(t),
		"-since", "2024-05-30", "-until", "2024-05-31", dir)
	if got := counts(html)[integrity.StatusLogMissing]; got != 1 {
		t.Errorf("log_missing %d in the report, want 1", got)
	}
	if strings.Contains(html, `id="integrity-none"`) {
		t.Error("the report says the archive was not validated")
	}
}

// The report in a real browser: headless Chromium (Debian's package, which
// the test-dependency step installs) loads the file, the DOM it builds has
// the counts and the charts' bars, and the screenshot is a drawn page.
func TestReportInChromium(t *testing.T) {
	if _, err := debpkg.Browser.Installed(); err != nil {
		if os.Getenv("OPSWORKS_REQUIRE_BROWSER") != "" {
			t.Fatalf("%v: `make test-deps` installs it", err)
		}
		t.Skipf("%v: run `make test-deps`", err)
	}
	src := filepath.Join("..", "..", "examples", "sample-trail")
	want := expect(t, src)
	path, _ := writeTestReport(t, src)
	browser := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command("chromium", append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
			"--user-data-dir=" + t.TempDir()}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}
	dom := string(browser("--dump-dom", "file://"+path))
	for v, n := range want.byVariant {
		if !strings.Contains(dom, `data-variant="`+v+`" data-count="`+strconv.Itoa(n)+`"`) {
			t.Errorf("the rendered page lacks %s = %d", v, n)
		}
	}
	if bars := strings.Count(dom, `class="bar"`); bars == 0 {
		t.Error("the timeline has no bars in the rendered page")
	}
	shot := filepath.Join(t.TempDir(), "report.png")
	browser("--screenshot="+shot, "--window-size=1000,1400", "file://"+path)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	colors := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colors[r>>12<<8|g>>12<<4|bl>>12] = true
		}
	}
	if len(colors) < 6 {
		t.Errorf("the screenshot has %d colours: nothing drawn?", len(colors))
	}
}
