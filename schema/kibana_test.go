package schema

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/opsworks-trail/opsworks-trail/internal/audit"
)

// The Kibana / OpenSearch Dashboards saved objects (examples/kibana): an
// index pattern and saved searches for the views of the report and the
// Grafana dashboard. No Kibana here: the tests check the import format,
// that every field exists in the index templates, and that each search's
// KQL selects exactly the records its view means, on real filter output.

type savedObject struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Attributes map[string]any `json:"attributes"`
	References []struct {
		Name, Type, ID string
	} `json:"references"`
	MigrationVersion map[string]string `json:"migrationVersion"`
}

func readSavedObjects(t *testing.T) []savedObject {
	t.Helper()
	var out []savedObject
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, filepath.Join(repoRoot(), "examples", "kibana", "opsworks-saved-objects.ndjson"))))
	for n := 1; sc.Scan(); n++ {
		var o savedObject
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		out = append(out, o)
	}
	return out
}

// What each saved search must select, written independently of its query.
var savedSearchMeans = map[string]func(r map[string]any) bool{
	"opsworks-activity":     func(r map[string]any) bool { return r["opsworks_variant"] != nil },
	"opsworks-failed-calls": func(r map[string]any) bool { return r["errorCode"] != nil },
	"opsworks-destructive": func(r map[string]any) bool {
		s, _ := r["eventName"].(string)
		return audit.IsDestructive(s)
	},
	"opsworks-cm-servers": func(r map[string]any) bool {
		v := r["opsworks_variant"]
		return v == "chef_automate" || v == "puppet_enterprise" || v == "cm_unknown"
	},
	"opsworks-integrity":   func(r map[string]any) bool { return r["integrity_status"] != nil },
	"opsworks-unprocessed": func(r map[string]any) bool { return r["opsworks_error"] != nil },
}

func TestSavedObjects(t *testing.T) {
	objs := readSavedObjects(t)
	es := mappings(t, readJSON(t, "elasticsearch-index-template.json"))
	props := es["properties"].(map[string]any)
	tmplPattern := readJSON(t, "elasticsearch-index-template.json")["index_patterns"].([]any)[0]

	// Records of every kind the index holds: events (ecs_fields on and off),
	// the filter's error records, and an integrity record.
	var recs []map[string]any
	for _, r := range realOutput(t) {
		recs = append(recs, r.Body)
	}
	// Beside them, the filter's error records and events that tell
	// errorCode from errorMessage (the corpus always has both or neither).
	ev := `{"eventVersion":"1.08","eventTime":"2024-05-31T22:00:40Z","eventSource":"opsworks-cm.amazonaws.com","eventName":"DeleteServer","awsRegion":"us-east-1","eventID":"e%d","recipientAccountId":"111122223333",%s}`
	for _, r := range run(t, nil, valueChunk(t, []byte(`{"Records":"oops"}`), []byte(`{"Records":[42]}`),
		[]byte(fmt.Sprintf(ev, 1, `"errorCode":"ValidationException"`)), []byte(fmt.Sprintf(ev, 2, `"errorMessage":"Server not found"`)))) {
		recs = append(recs, r.Body)
	}
	recs = append(recs, map[string]any{"integrity_status": "log_missing", "s3_key": "AWSLogs/x.json.gz", "detail": "named by digest d, absent",
		"eventID": "integrity-00000000000000000000000000000000"})

	ids := map[string]string{}
	for _, o := range objs {
		if o.ID == "" || ids[o.ID] != "" {
			t.Errorf("object id %q empty or repeated", o.ID)
		}
		ids[o.ID] = o.Type
		if title, _ := o.Attributes["title"].(string); title == "" {
			t.Errorf("%s: no title", o.ID)
		}
		if o.MigrationVersion[o.Type] == "" {
			t.Errorf("%s: no migrationVersion for %s (Kibana would not migrate it on import)", o.ID, o.Type)
		}
	}
	searches := 0
	for _, o := range objs {
		switch o.Type {
		case "index-pattern":
			if o.Attributes["title"] != tmplPattern {
				t.Errorf("index pattern %v, the templates apply to %v", o.Attributes["title"], tmplPattern)
			}
			tf, _ := o.Attributes["timeFieldName"].(string)
			if f := fieldAt(props, tf); f == nil || f["type"] != "date" {
				t.Errorf("time field %q is not a date of the template", tf)
			}
		case "search":
			searches++
			t.Run(o.ID, func(t *testing.T) {
				means := savedSearchMeans[o.ID]
				if means == nil {
					t.Fatalf("no meaning written down for saved search %s", o.ID)
				}
				var src struct {
					Query        struct{ Query, Language string }
					Filter       []any
					IndexRefName string
				}
				if err := json.Unmarshal([]byte(o.Attributes["kibanaSavedObjectMeta"].(map[string]any)["searchSourceJSON"].(string)), &src); err != nil {
					t.Fatalf("searchSourceJSON: %v", err)
				}
				if len(o.References) != 1 || o.References[0].Name != src.IndexRefName || o.References[0].Type != "index-pattern" || ids[o.References[0].ID] != "index-pattern" {
					t.Errorf("references %+v do not resolve %s to the index pattern", o.References, src.IndexRefName)
				}
				if src.Query.Language != "kuery" {
					t.Errorf("language %q, want kuery", src.Query.Language)
				}
				q, err := parseKQL(src.Query.Query)
				if err != nil {
					t.Fatalf("%s: %v", src.Query.Query, err)
				}
				for _, f := range q.fields(nil) {
					if !mappedField(props, f, true) {
						t.Errorf("query field %s is not in the template", f)
					}
				}
				// Discover in 7.10 shows columns from _source: an alias
				// column would stay empty.
				for _, c := range o.Attributes["columns"].([]any) {
					if !mappedField(props, c.(string), false) {
						t.Errorf("column %v is not a concrete field of the template", c)
					}
				}
				n := 0
				for _, r := range recs {
					got, want := q.eval(r), means(r)
					if got != want {
						t.Fatalf("%s selects %v, want %v, for %v", src.Query.Query, got, want, r)
					}
					if got {
						n++
					}
				}
				if n == 0 {
					t.Errorf("selects none of %d records: the check above proves nothing", len(recs))
				}
			})
		default:
			t.Errorf("%s: type %s", o.ID, o.Type)
		}
	}
	if searches != len(savedSearchMeans) {
		t.Errorf("%d saved searches, want %d", searches, len(savedSearchMeans))
	}
}

// mappedField: an explicit field of the template (an alias only when
// aliases are allowed), a key inside a heterogeneous object (flattened), or
// a userIdentity_* key of the dynamic template.
func mappedField(props map[string]any, name string, aliasOK bool) bool {
	if strings.HasPrefix(name, "userIdentity_") {
		return true
	}
	if f := fieldAt(props, name); f != nil {
		return f["type"] != "object" && (aliasOK || f["type"] != "alias")
	}
	head, _, ok := strings.Cut(name, ".")
	return ok && slices.Contains(heterogeneous, head)
}

// kql is the subset of Kibana's query language the saved searches use:
// field:value, field:* (exists), field:(v1 or v2), wildcards in values,
// and, or, not, parentheses.
type kql struct {
	op       string // "or", "and", "not", "match"
	kids     []*kql
	field    string
	patterns []string
	res      []*regexp.Regexp // patterns compiled; nil for "*"
}

func (q *kql) fields(out []string) []string {
	if q.op == "match" {
		return append(out, q.field)
	}
	for _, k := range q.kids {
		out = k.fields(out)
	}
	return out
}

func (q *kql) eval(r map[string]any) bool {
	switch q.op {
	case "or":
		return slices.ContainsFunc(q.kids, func(k *kql) bool { return k.eval(r) })
	case "and":
		return !slices.ContainsFunc(q.kids, func(k *kql) bool { return !k.eval(r) })
	case "not":
		return !q.kids[0].eval(r)
	}
	var v any = r
	for _, p := range strings.Split(q.field, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		v = m[p]
	}
	if v == nil {
		return false
	}
	s := fmt.Sprint(v)
	for _, re := range q.res {
		if re == nil || re.MatchString(s) {
			return true
		}
	}
	return false
}

func (q *kql) compile() {
	for _, p := range q.patterns {
		var re *regexp.Regexp
		if p != "*" {
			re = regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(p), `\*`, ".*") + "$")
		}
		q.res = append(q.res, re)
	}
}

func parseKQL(s string) (*kql, error) {
	var toks []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ':
			i++
		case c == '(' || c == ')' || c == ':':
			toks = append(toks, string(c))
			i++
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quote")
			}
			toks = append(toks, s[i:i+j+2])
			i += j + 2
		default:
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || strings.ContainsRune("_.*@-", rune(s[j]))) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("unexpected %q", c)
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	p := &kqlParser{toks: toks}
	q, err := p.or()
	if err == nil && p.i != len(toks) {
		err = fmt.Errorf("unexpected %q", toks[p.i])
	}
	return q, err
}

type kqlParser struct {
	toks []string
	i    int
}

func (p *kqlParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *kqlParser) next() string { t := p.peek(); p.i++; return t }

func (p *kqlParser) or() (*kql, error)  { return p.list("or", p.and) }
func (p *kqlParser) and() (*kql, error) { return p.list("and", p.not) }

func (p *kqlParser) list(op string, sub func() (*kql, error)) (*kql, error) {
	q := &kql{op: op}
	for {
		k, err := sub()
		if err != nil {
			return nil, err
		}
		q.kids = append(q.kids, k)
		if strings.ToLower(p.peek()) != op {
			break
		}
		p.next()
	}
	if len(q.kids) == 1 {
		return q.kids[0], nil
	}
	return q, nil
}

func (p *kqlParser) not() (*kql, error) {
	if strings.ToLower(p.peek()) == "not" {
		p.next()
		k, err := p.not()
		return &kql{op: "not", kids: []*kql{k}}, err
	}
	if p.peek() == "(" {
		p.next()
		q, err := p.or()
		if err == nil && p.next() != ")" {
			err = fmt.Errorf("missing )")
		}
		return q, err
	}
	field := p.next()
	if field == "" || p.next() != ":" {
		return nil, fmt.Errorf("want field:value at %q", field)
	}
	q := &kql{op: "match", field: field}
	defer q.compile()
	if p.peek() != "(" {
		q.patterns = []string{strings.Trim(p.next(), `"`)}
		return q, nil
	}
	p.next()
	for {
		v := p.next()
		if v == "" || v == ")" {
			return nil, fmt.Errorf("want a value in %s:( )", field)
		}
		q.patterns = append(q.patterns, strings.Trim(v, `"`))
		switch strings.ToLower(p.next()) {
		case "or":
			continue
		case ")":
			return q, nil
		default:
			return nil, fmt.Errorf("want or or ) in %s:( )", field)
		}
	}
}

// The parser itself, on queries whose meaning is known.
func TestKQLSubset(t *testing.T) {
	r := map[string]any{"eventName": "DeleteStack", "errorCode": "AccessDenied", "requestParameters": map[string]any{"serverName": "chef-1"}}
	cases := []struct {
		q    string
		want bool
	}{
		{"eventName:DeleteStack", true},
		{"eventName:Delete*", true},
		{"eventName:(Stop* or DeleteStack)", true},
		{"eventName:(Stop* or Create*)", false},
		{"errorCode:*", true},
		{"errorMessage:*", false},
		{"not errorMessage:* and eventName:D*", true},
		{`requestParameters.serverName:"chef-1"`, true},
		{"(errorMessage:* or eventName:X) and errorCode:*", false},
	}
	for _, tc := range cases {
		q, err := parseKQL(tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		if got := q.eval(r); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.q, got, tc.want)
		}
	}
	for _, bad := range []string{"eventName", "eventName:(a or", "(a:b", "a:b c"} {
		if _, err := parseKQL(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// The destructive search lists exactly the report's actions.
func TestSavedSearchDestructiveList(t *testing.T) {
	for _, o := range readSavedObjects(t) {
		if o.ID != "opsworks-destructive" {
			continue
		}
		var want []string
		for _, p := range audit.DestructivePrefixes {
			want = append(want, p+"*")
		}
		want = append(want, audit.DestructiveNames...)
		src := o.Attributes["kibanaSavedObjectMeta"].(map[string]any)["searchSourceJSON"].(string)
		if !strings.Contains(src, "eventName:("+strings.Join(want, " or ")+")") {
			t.Errorf("the destructive search is not the report's list: %s", src)
		}
		return
	}
	t.Fatal("no opsworks-destructive search")
}
