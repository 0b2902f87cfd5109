package corpus

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// ctEvent is the part of an event the tests look at.
type ctEvent struct {
	EventVersion       string         `json:"eventVersion"`
	UserIdentity       map[string]any `json:"userIdentity"`
	EventTime          string         `json:"eventTime"`
	EventSource        string         `json:"eventSource"`
	EventName          string         `json:"eventName"`
	AWSRegion          string         `json:"awsRegion"`
	EventID            string         `json:"eventID"`
	RequestID          string         `json:"requestID"`
	RecipientAccountID string         `json:"recipientAccountId"`
	RequestParameters  map[string]any `json:"requestParameters"`
	ResponseElements   map[string]any `json:"responseElements"`
}

func decode(t *testing.T, b []byte) ctEvent {
	t.Helper()
	var e ctEvent
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("invalid JSON event: %v\n%s", err, b)
	}
	return e
}

func isOpsWorks(src string) bool {
	return src == "opsworks.amazonaws.com" || src == "opsworks-cm.amazonaws.com"
}

func TestDeterministic(t *testing.T) {
	o := Options{Seed: 42, Events: 2000, OpsWorksShare: 0.3}
	a, b := Events(o), Events(o)
	if len(a) != len(b) {
		t.Fatalf("lengths differ: %d vs %d", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("event %d differs between runs with the same seed:\n%s\n%s", i, a[i], b[i])
		}
	}
	o.Seed = 43
	if c := Events(o); bytes.Equal(a[0], c[0]) && bytes.Equal(a[1], c[1]) {
		t.Fatal("a different seed gave the same events")
	}
	f1, f2 := LogFiles(Options{Seed: 7, Events: 500}), LogFiles(Options{Seed: 7, Events: 500})
	for i := range f1 {
		if f1[i].Key != f2[i].Key || !bytes.Equal(f1[i].Body, f2[i].Body) {
			t.Fatalf("log file %d differs between runs", i)
		}
	}
}

func TestOpsWorksShare(t *testing.T) {
	for _, share := range []float64{0, 0.01, 0.05, 0.3, 1} {
		evs := Events(Options{Seed: 1, Events: 10000, OpsWorksShare: share})
		n := 0
		for _, b := range evs {
			if isOpsWorks(decode(t, b).EventSource) {
				n++
			}
		}
		got := float64(n) / float64(len(evs))
		if got < share-0.02 || got > share+0.02 {
			t.Errorf("share %.2f: got %.4f OpsWorks events", share, got)
		}
	}
}

func TestIdentityTypes(t *testing.T) {
	seen := map[string]int{}
	for _, b := range Events(Options{Seed: 3, Events: 10000, OpsWorksShare: 0.2}) {
		e := decode(t, b)
		ui := e.UserIdentity
		typ, _ := ui["type"].(string)
		sc, _ := ui["sessionContext"].(map[string]any)
		switch typ {
		case "AssumedRole":
			if sc["sessionIssuer"] == nil || sc["attributes"] == nil {
				t.Fatalf("AssumedRole without sessionIssuer/attributes: %s", b)
			}
			if fed, ok := sc["webIdFederationData"].(map[string]any); ok {
				if fed["federatedProvider"] == nil || fed["attributes"] == nil {
					t.Fatalf("webIdFederationData incomplete: %s", b)
				}
				seen["WebIdentityUser"]++ // the AssumedRole form of web identity federation
				seen["AssumedRole+webIdFederationData"]++
			}
		case "AWSService":
			if ui["invokedBy"] == nil {
				t.Fatalf("AWSService without invokedBy: %s", b)
			}
		case "IdentityCenterUser":
			ob, _ := ui["onBehalfOf"].(map[string]any)
			if ob["userId"] == nil || ob["identityStoreArn"] == nil {
				t.Fatalf("IdentityCenterUser without onBehalfOf: %s", b)
			}
		}
		seen[typ]++
	}
	for _, typ := range append(IdentityTypes, "AssumedRole+webIdFederationData") {
		if seen[typ] == 0 {
			t.Errorf("identity type %s missing (seen: %v)", typ, seen)
		}
	}
}

var (
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
)

func TestEventsValid(t *testing.T) {
	start := time.Date(2023, 11, 5, 10, 0, 0, 0, time.UTC)
	end := start.Add(6 * time.Hour)
	o := Options{Seed: 9, Events: 5000, OpsWorksShare: 0.5, Start: start, End: end}
	total := 0
	ids := map[string]bool{}
	for _, b := range Events(o) {
		if !json.Valid(b) || bytes.ContainsAny(b, "\n") {
			t.Fatalf("not compact valid JSON: %s", b)
		}
		total += len(b)
		e := decode(t, b)
		if !uuidRE.MatchString(e.EventID) || !uuidRE.MatchString(e.RequestID) {
			t.Fatalf("eventID/requestID not UUIDs: %q %q", e.EventID, e.RequestID)
		}
		if ids[e.EventID] {
			t.Fatalf("duplicate eventID %s", e.EventID)
		}
		ids[e.EventID] = true
		if !timeRE.MatchString(e.EventTime) {
			t.Fatalf("eventTime %q is not CloudTrail's RFC 3339 form", e.EventTime)
		}
		et, _ := time.Parse(time.RFC3339, e.EventTime)
		if et.Before(start) || !et.Before(end) {
			t.Fatalf("eventTime %s outside [%s, %s)", e.EventTime, start, end)
		}
		if e.EventVersion == "" || e.EventName == "" || e.AWSRegion == "" || e.RecipientAccountID == "" || e.UserIdentity == nil {
			t.Fatalf("missing envelope field: %s", b)
		}
	}
	if avg := total / o.Events; avg < 1000 || avg > 2000 {
		t.Errorf("average event size %d bytes, want 1–2 KB", avg)
	}
}

// TestOpsWorksCoverage checks the corpus contains the cases the filter's
// rules are written for.
func TestOpsWorksCoverage(t *testing.T) {
	want := map[string]func(e ctEvent, raw string) bool{
		"CreateServer engine Chef":         func(e ctEvent, _ string) bool { return e.RequestParameters["engine"] == "Chef" },
		"CreateServer engine ChefAutomate": func(e ctEvent, _ string) bool { return e.RequestParameters["engine"] == "ChefAutomate" },
		"CreateServer engine Puppet":       func(e ctEvent, _ string) bool { return e.RequestParameters["engine"] == "Puppet" },
		"CreateServer without engine": func(e ctEvent, _ string) bool {
			return e.EventName == "CreateServer" && e.RequestParameters["engine"] == nil
		},
		"redacted CHEF_PIVOTAL_KEY": func(_ ctEvent, raw string) bool {
			return strings.Contains(raw, `{"name":"CHEF_PIVOTAL_KEY","value":"*** Redacted ***"}`)
		},
		"redacted PUPPET_ADMIN_PASSWORD": func(_ ctEvent, raw string) bool {
			return strings.Contains(raw, `{"name":"PUPPET_ADMIN_PASSWORD","value":"*** Redacted ***"}`)
		},
		"DescribeServers servers[]": func(e ctEvent, _ string) bool {
			return e.EventName == "DescribeServers" && e.ResponseElements["servers"] != nil
		},
		"CreateBackup with only serverName": func(e ctEvent, _ string) bool {
			return e.EventName == "CreateBackup" && e.ResponseElements == nil && len(e.RequestParameters) >= 1 && e.RequestParameters["serverName"] != nil
		},
		"UpdateServerEngineAttributes attributeName": func(e ctEvent, _ string) bool { return e.RequestParameters["attributeName"] != nil },
		"AssociateNode CHEF_ORGANIZATION": func(e ctEvent, raw string) bool {
			return e.EventName == "AssociateNode" && strings.Contains(raw, `"name":"CHEF_ORGANIZATION"`)
		},
		"plain attributeValue": func(e ctEvent, _ string) bool {
			v, ok := e.RequestParameters["attributeValue"].(string)
			return ok && v != "*** Redacted ***"
		},
		"plain private key": func(_ ctEvent, raw string) bool { return strings.Contains(raw, "BEGIN RSA PRIVATE KEY") },
	}
	for _, name := range []string{"CreateLayer", "DescribeInstances", "StartInstance", "CreateStack", "DeleteApp", "UpdateLayer", "DeleteServer"} {
		want[name] = func(e ctEvent, _ string) bool { return e.EventName == name && isOpsWorks(e.EventSource) }
	}
	found := map[string]bool{}
	for _, b := range Events(Options{Seed: 5, Events: 20000, OpsWorksShare: 1}) {
		e := decode(t, b)
		for name, f := range want {
			if !found[name] && f(e, string(b)) {
				found[name] = true
			}
		}
	}
	for name := range want {
		if !found[name] {
			t.Errorf("no event with %s", name)
		}
	}
}

var (
	keyRE    = regexp.MustCompile(`^AWSLogs/(\d{12})/CloudTrail/([a-z]{2}-[a-z]+-\d)/(\d{4})/(\d\d)/(\d\d)/(\d{12})_CloudTrail_([a-z]{2}-[a-z]+-\d)_(\d{8})T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$`)
	orgKeyRE = regexp.MustCompile(`^AWSLogs/o-[a-z0-9]{10}/\d{12}/CloudTrail/[a-z]{2}-[a-z]+-\d/\d{4}/\d\d/\d\d/\d{12}_CloudTrail_[a-z]{2}-[a-z]+-\d_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$`)
)

func TestLogFiles(t *testing.T) {
	o := Options{Seed: 11, Events: 3000, OpsWorksShare: 0.1, EventsPerFile: 20}
	files := LogFiles(o)
	n := 0
	for _, f := range files {
		m := keyRE.FindStringSubmatch(f.Key)
		if m == nil {
			t.Fatalf("key %q does not follow the CloudTrail layout", f.Key)
		}
		if m[1] != f.Account || m[6] != f.Account || m[2] != f.Region || m[7] != f.Region || m[3]+m[4]+m[5] != m[8] || m[8] != f.Time.Format("20060102") {
			t.Fatalf("key %q disagrees with account %s region %s time %s", f.Key, f.Account, f.Region, f.Time)
		}
		var doc struct{ Records []json.RawMessage }
		if err := json.Unmarshal(f.Body, &doc); err != nil || len(doc.Records) == 0 {
			t.Fatalf("%s: body is not {\"Records\":[…]}: %v", f.Key, err)
		}
		if len(doc.Records) > o.EventsPerFile {
			t.Fatalf("%s: %d records, more than EventsPerFile", f.Key, len(doc.Records))
		}
		for _, r := range doc.Records {
			e := decode(t, r)
			if e.RecipientAccountID != f.Account || e.AWSRegion != f.Region {
				t.Fatalf("%s holds an event of %s/%s", f.Key, e.RecipientAccountID, e.AWSRegion)
			}
		}
		n += len(doc.Records)
	}
	if n != o.Events {
		t.Fatalf("log files hold %d events, want %d", n, o.Events)
	}
	o.OrgID = "o-a1b2c3d4e5"
	for _, f := range LogFiles(o) {
		if !orgKeyRE.MatchString(f.Key) {
			t.Fatalf("organization key %q does not follow the layout", f.Key)
		}
	}
}

func TestWriteArchive(t *testing.T) {
	o := Options{Seed: 2, Events: 400}
	for _, gz := range []bool{true, false} {
		dir := t.TempDir()
		n, err := WriteArchive(dir, o, gz)
		if err != nil || n != len(LogFiles(o)) {
			t.Fatalf("WriteArchive: %d files, %v", n, err)
		}
		count := 0
		filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			count++
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if gz != strings.HasSuffix(path, ".json.gz") || !strings.Contains(path, "_CloudTrail_") {
				t.Fatalf("unexpected file name %s (gzip %v)", path, gz)
			}
			if gz {
				zr, err := gzip.NewReader(bytes.NewReader(data))
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if data, err = io.ReadAll(zr); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
			}
			if !json.Valid(data) || !bytes.HasPrefix(data, []byte(`{"Records":[`)) {
				t.Fatalf("%s: not a CloudTrail log file", path)
			}
			return nil
		})
		if count != n {
			t.Fatalf("%d files on disk, WriteArchive said %d", count, n)
		}
	}
}

func TestWriteNDJSON(t *testing.T) {
	o := Options{Seed: 4, Events: 300, OpsWorksShare: 0.5}
	var buf bytes.Buffer
	if err := WriteNDJSON(&buf, o); err != nil {
		t.Fatal(err)
	}
	want := bytes.Join(Events(o), []byte("\n"))
	want = append(want, '\n')
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatal("WriteNDJSON differs from Events joined by newlines")
	}
}
