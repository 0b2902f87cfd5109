package schema

import (
	"bufio"
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/opsworks-trail/opsworks-trail/internal/audit"
	"gopkg.in/yaml.v3"
)

type lokiLabels struct {
	Static map[string]string `json:"static_labels"`
	Labels []struct {
		Name      string `json:"name"`
		RecordKey string `json:"record_key"`
	} `json:"labels"`
	Never map[string]string `json:"never_labels"`
}

func readLokiLabels(t *testing.T) (lokiLabels, map[string]bool) {
	t.Helper()
	var l lokiLabels
	if err := json.Unmarshal(readFile(t, filepath.Join(here(), "loki-labels.json")), &l); err != nil {
		t.Fatalf("loki-labels.json: %v", err)
	}
	names := map[string]bool{}
	for k := range l.Static {
		names[k] = true
	}
	for _, x := range l.Labels {
		names[x.Name] = true
	}
	return l, names
}

// The label set is small, low-cardinality by construction, and disjoint
// from the fields documented as never-labels.
func TestLokiLabelSet(t *testing.T) {
	l, names := readLokiLabels(t)
	if len(l.Labels) == 0 || len(l.Labels) > 6 {
		t.Fatalf("%d record labels; keep the set small", len(l.Labels))
	}
	for _, x := range l.Labels {
		// Fluent Bit's label_keys names the label after the key.
		if x.Name != x.RecordKey {
			t.Errorf("label %s from key %s", x.Name, x.RecordKey)
		}
		if !regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`).MatchString(x.Name) {
			t.Errorf("%s is not a valid Loki label name", x.Name)
		}
	}
	for _, never := range []string{"eventID", "requestID", "userIdentity_arn", "sourceIPAddress", "userAgent", "eventTime"} {
		if names[never] {
			t.Errorf("%s is a label: unbounded cardinality", never)
		}
		if _, ok := l.Never[never]; !ok {
			t.Errorf("never_labels does not explain %s", never)
		}
	}
	// Every label key is a string in every real record (a label value
	// must be), and takes few values.
	values := map[string]map[string]bool{}
	for _, r := range realOutput(t) {
		if r.Body["opsworks_error"] != nil {
			continue
		}
		for _, x := range l.Labels {
			s, ok := r.Body[x.RecordKey].(string)
			if !ok {
				t.Fatalf("record key %s is %T, not a string", x.RecordKey, r.Body[x.RecordKey])
			}
			if values[x.Name] == nil {
				values[x.Name] = map[string]bool{}
			}
			values[x.Name][s] = true
		}
	}
	for name, v := range values {
		if len(v) > 50 {
			t.Errorf("label %s takes %d values over the corpus", name, len(v))
		}
	}
}

// logqlQueries returns the ```logql blocks of a Markdown file here.
func logqlQueries(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	var cur []string
	in := false
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, filepath.Join(here(), name))))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.TrimSpace(line) == "```logql":
			in, cur = true, nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			out = append(out, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, line)
		}
	}
	return out
}

var (
	// A LogQL string: "…" with escapes, or `…` raw.
	logqlString = "(\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]*`)"
	matcherRe   = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*` + logqlString + `\s*$`)
)

// streamSelectors returns the contents of a query's {…} stream selectors,
// skipping braces inside strings (line_format templates).
func streamSelectors(q string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '"':
			for i++; i < len(q) && q[i] != '"'; i++ {
				if q[i] == '\\' {
					i++
				}
			}
		case c == '`':
			for i++; i < len(q) && q[i] != '`'; i++ {
			}
		case c == '{':
			if depth == 0 {
				start = i + 1
			}
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				out = append(out, q[start:i])
			}
		}
	}
	return out
}

// splitMatchers splits a selector at commas outside strings.
func splitMatchers(sel string) []string {
	var out []string
	start := 0
	for i := 0; i < len(sel); i++ {
		switch sel[i] {
		case '"':
			for i++; i < len(sel) && sel[i] != '"'; i++ {
				if sel[i] == '\\' {
					i++
				}
			}
		case '`':
			for i++; i < len(sel) && sel[i] != '`'; i++ {
			}
		case ',':
			out = append(out, sel[start:i])
			start = i + 1
		}
	}
	return append(out, sel[start:])
}

// The example queries (loki.md, the README) select streams by labels
// of the label set only, each with the static job label, and loki.md's cover
// what it promises.
func TestLokiQueries(t *testing.T) {
	l, names := readLokiLabels(t)
	queries := logqlQueries(t, "loki.md")
	if len(queries) < 4 {
		t.Fatalf("%d LogQL queries in loki.md", len(queries))
	}
	for _, q := range append(logqlQueries(t, filepath.Join("..", "README.md")), queries...) {
		sels := streamSelectors(q)
		if len(sels) == 0 {
			t.Errorf("no stream selector in:\n%s", q)
		}
		for _, sel := range sels {
			jobSeen := false
			for _, m := range splitMatchers(sel) {
				g := matcherRe.FindStringSubmatch(m)
				if g == nil {
					t.Errorf("cannot parse matcher %q in:\n%s", m, q)
					continue
				}
				if !names[g[1]] {
					t.Errorf("selector uses %s, which is not in loki-labels.json:\n%s", g[1], q)
				}
				if g[1] == "job" && g[2] == "=" && strings.Trim(g[3], "\"`") == l.Static["job"] {
					jobSeen = true
				}
			}
			if !jobSeen {
				t.Errorf("selector {%s} does not pin job=%q", sel, l.Static["job"])
			}
		}
	}
	all := strings.Join(queries, "\n\n")
	covers := func(parts ...string) bool {
		for _, q := range queries {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(q, p)
			}
			if ok {
				return true
			}
		}
		return false
	}
	for _, need := range [][]string{
		{"CreateServer", "DeleteServer", "userIdentity_arn"},      // who created/deleted a server
		{`"userIdentity_arn":"arn:aws:iam::`},                     // all actions of one principal
		{"errorCode", `errorCode != ""`},                          // failed calls
		{"chef_automate", "puppet_enterprise", "count_over_time"}, // Chef vs Puppet over time
	} {
		if !covers(need...) {
			t.Errorf("no query containing all of %q in:\n%s", need, all)
		}
	}
}

// The shipped Loki outputs use exactly this label set.
func TestPipelinesUseLokiLabelSet(t *testing.T) {
	l, _ := readLokiLabels(t)
	var static []string
	for k, v := range l.Static {
		static = append(static, k+"="+v)
	}
	sort.Strings(static)
	var keys []string
	for _, x := range l.Labels {
		keys = append(keys, "$"+x.RecordKey)
	}
	wantLabels, wantKeys := strings.Join(static, ","), strings.Join(keys, ",")
	dir := filepath.Join(repoRoot(), "examples", "pipelines")
	found := 0
	for _, f := range []string{"loki.conf", "routing.conf"} {
		for _, sec := range classicSections(t, filepath.Join(dir, f)) {
			if !strings.EqualFold(sec["name"], "loki") {
				continue
			}
			found++
			if sec["labels"] != wantLabels || sec["label_keys"] != wantKeys {
				t.Errorf("%s: labels %q label_keys %q; want %q and %q", f, sec["labels"], sec["label_keys"], wantLabels, wantKeys)
			}
			if sec["line_format"] != "json" {
				t.Errorf("%s: line_format %q", f, sec["line_format"])
			}
		}
	}
	for _, f := range []string{"loki.yaml", "routing.yaml"} {
		var doc struct {
			Pipeline struct {
				Outputs []map[string]any `yaml:"outputs"`
			} `yaml:"pipeline"`
		}
		if err := yaml.Unmarshal(readFile(t, filepath.Join(dir, f)), &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, o := range doc.Pipeline.Outputs {
			if o["name"] != "loki" {
				continue
			}
			found++
			if o["labels"] != wantLabels || o["label_keys"] != wantKeys || o["line_format"] != "json" {
				t.Errorf("%s: labels %v label_keys %v line_format %v; want %q, %q, json", f, o["labels"], o["label_keys"], o["line_format"], wantLabels, wantKeys)
			}
		}
	}
	if found != 4 {
		t.Errorf("found %d loki outputs in the shipped pipelines, want 4", found)
	}
}

// classicSections parses a classic Fluent Bit file into its [OUTPUT]
// sections, keys lower-cased.
func classicSections(t *testing.T, path string) []map[string]string {
	t.Helper()
	var out []map[string]string
	var cur map[string]string
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, path)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			cur = nil
			if strings.EqualFold(line, "[OUTPUT]") {
				cur = map[string]string{}
				out = append(out, cur)
			}
		case cur != nil:
			k, v, _ := strings.Cut(line, " ")
			cur[strings.ToLower(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// The Grafana dashboard (examples/grafana) queries Loki through its data
// source variable, and its stream selectors use only the documented labels
// (test/e2e runs every panel against a real Loki).
func TestGrafanaDashboard(t *testing.T) {
	_, names := readLokiLabels(t)
	var d struct {
		UID        string `json:"uid"`
		Templating struct {
			List []struct{ Name, Type, Query string }
		} `json:"templating"`
		Panels []struct {
			Title      string
			Datasource struct{ Type, UID string }
			Targets    []struct {
				Expr       string
				Datasource struct{ Type, UID string }
			}
		}
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(here(), "..", "examples", "grafana", "opsworks-loki-dashboard.json")), &d); err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || len(d.Templating.List) != 1 || d.Templating.List[0].Type != "datasource" || d.Templating.List[0].Query != "loki" {
		t.Errorf("want a uid and one Loki data source variable: %+v", d.Templating)
	}
	selector := regexp.MustCompile(`\{([^}]*)\}`)
	matcher := regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)`)
	destructivePanel := false
	for _, p := range d.Panels {
		if p.Datasource.Type != "loki" || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %+v, %d queries", p.Title, p.Datasource, len(p.Targets))
		}
		for _, q := range p.Targets {
			sel := selector.FindStringSubmatch(q.Expr)
			if sel == nil {
				t.Errorf("panel %q: no stream selector in %s", p.Title, q.Expr)
				continue
			}
			for _, m := range matcher.FindAllStringSubmatch(sel[1], -1) {
				if !names[m[1]] {
					t.Errorf("panel %q selects streams by %s, not a label of loki-labels.json", p.Title, m[1])
				}
			}
			if strings.Contains(p.Title, "Destructive") {
				destructivePanel = true
				if want := `eventName =~ "` + audit.DestructiveRegexp() + `"`; !strings.Contains(q.Expr, want) {
					t.Errorf("panel %q: %s does not select %s (the report's list, internal/audit)", p.Title, q.Expr, want)
				}
			}
		}
	}
	if !destructivePanel {
		t.Error("no destructive-actions panel")
	}
}
