package schema

import (
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// The index templates, checked without a cluster (CI has none): structure as
// the _index_template APIs document it, only field types the backend knows,
// and coverage of every field the filter really emits.

type backend struct {
	file     string
	flatType string          // the type that stores heterogeneous objects whole
	types    map[string]bool // field types this backend knows
}

var (
	commonTypes = []string{"keyword", "text", "date", "date_nanos", "boolean", "ip", "object", "nested",
		"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "binary", "wildcard", "constant_keyword", "match_only_text", "alias"}
	backends = []backend{
		{"elasticsearch-index-template.json", "flattened", typeSet("flattened")},
		{"opensearch-index-template.json", "flat_object", typeSet("flat_object")},
		// OpenSearch before 2.7 has no flat_object: the same objects are
		// stored in _source only ("enabled": false).
		{"opensearch-legacy-index-template.json", "", typeSet()},
	}
	// Objects whose shape depends on the API call: stored whole, never mapped
	// field by field (conflicts, mapping explosion).
	heterogeneous = []string{"requestParameters", "responseElements", "additionalEventData", "serviceEventDetails", "addendum", "edgeDeviceDetails", "insightDetails"}
	matchTypes    = map[string]bool{"*": true, "string": true, "long": true, "double": true, "boolean": true, "date": true, "binary": true, "object": true}
)

func typeSet(extra ...string) map[string]bool {
	m := map[string]bool{}
	for _, t := range append(commonTypes, extra...) {
		m[t] = true
	}
	return m
}

func obj(t *testing.T, v any, where string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: want an object, got %T", where, v)
	}
	return m
}

func mappings(t *testing.T, tmpl map[string]any) map[string]any {
	t.Helper()
	return obj(t, obj(t, tmpl["template"], "template")["mappings"], "template.mappings")
}

func TestTemplateStructure(t *testing.T) {
	for _, b := range backends {
		t.Run(b.file, func(t *testing.T) {
			tmpl := readJSON(t, b.file)
			for _, k := range []string{"index_patterns", "template", "priority", "version", "_meta"} {
				if _, ok := tmpl[k]; !ok {
					t.Errorf("missing top-level key %q", k)
				}
			}
			for k := range tmpl {
				switch k {
				case "index_patterns", "template", "priority", "version", "_meta", "composed_of", "data_stream":
				default:
					t.Errorf("unknown top-level key %q (not part of _index_template)", k)
				}
			}
			if p, _ := tmpl["index_patterns"].([]any); len(p) != 1 || p[0] != "opsworks-*" {
				t.Errorf("index_patterns = %v, want [opsworks-*]", tmpl["index_patterns"])
			}
			// Fluent Bit writes with _id = eventID and the create operation, so
			// that re-running a backfill never duplicates; data streams would
			// reject that (create-only, no custom routing by index name).
			if _, ok := tmpl["data_stream"]; ok {
				t.Error("a data stream template; the pipelines write to a plain index")
			}
			if p, ok := tmpl["priority"].(float64); !ok || p < 1 {
				t.Errorf("priority = %v", tmpl["priority"])
			}
			tpl := obj(t, tmpl["template"], "template")
			for k := range tpl {
				if k != "settings" && k != "mappings" && k != "aliases" {
					t.Errorf("unknown key template.%s", k)
				}
			}
			settings := obj(t, obj(t, tpl["settings"], "settings")["index"], "settings.index")
			if settings["number_of_shards"] == nil {
				t.Error("settings.index.number_of_shards is not set")
			}
			m := mappings(t, tmpl)
			if m["dynamic"] != true {
				t.Errorf("dynamic = %v, want true: new CloudTrail fields must be indexed, not rejected", m["dynamic"])
			}
			// With date detection on, a new field whose first value looks like
			// a date becomes a date field and a later non-date value is rejected.
			if m["date_detection"] != false {
				t.Errorf("date_detection = %v, want false", m["date_detection"])
			}
			props := obj(t, m["properties"], "properties")
			checkTypes(t, b, "properties", props)

			dts, ok := m["dynamic_templates"].([]any)
			if !ok || len(dts) == 0 {
				t.Fatal("no dynamic_templates")
			}
			catchAll := false
			for i, dt := range dts {
				entry := obj(t, dt, fmt.Sprintf("dynamic_templates[%d]", i))
				if len(entry) != 1 {
					t.Errorf("dynamic_templates[%d] has %d keys, want exactly one (the template name)", i, len(entry))
				}
				for name, body := range entry {
					d := obj(t, body, name)
					mp, ok := d["mapping"].(map[string]any)
					if !ok {
						t.Errorf("dynamic template %s has no mapping", name)
						continue
					}
					checkField(t, b, "dynamic_templates."+name, mp)
					if d["match"] == nil && d["path_match"] == nil && d["match_mapping_type"] == nil {
						t.Errorf("dynamic template %s matches nothing", name)
					}
					for k := range d {
						switch k {
						case "match", "unmatch", "path_match", "path_unmatch", "match_mapping_type", "match_pattern", "mapping":
						default:
							t.Errorf("dynamic template %s: unknown key %q", name, k)
						}
					}
					if mt, ok := d["match_mapping_type"].(string); ok && !matchTypes[mt] {
						t.Errorf("dynamic template %s: match_mapping_type %q", name, mt)
					}
					if mp, ok := d["match_pattern"].(string); ok && mp != "simple" && mp != "regex" {
						t.Errorf("dynamic template %s: match_pattern %q", name, mp)
					}
					if d["match_mapping_type"] == "string" && d["match"] == nil && d["path_match"] == nil &&
						mp["type"] == "keyword" && mp["ignore_above"] != nil {
						catchAll = true
					}
				}
			}
			if !catchAll {
				t.Error("no catch-all dynamic template mapping unknown strings to keyword with ignore_above")
			}

			// ignore_malformed: an event whose eventTime the filter could not
			// use keeps it as it was (with opsworks_warning); the document
			// must still be indexed.
			et := obj(t, props["eventTime"], "eventTime")
			if et["type"] != "date" || et["format"] != "strict_date_optional_time" || et["ignore_malformed"] != true {
				t.Errorf("eventTime = %v, want a date, format strict_date_optional_time, ignore_malformed", et)
			}
			if obj(t, props["@timestamp"], "@timestamp")["type"] != "date" {
				t.Error("@timestamp (added by the es/opensearch outputs) is not a date")
			}
			for _, f := range heterogeneous {
				p := obj(t, props[f], f)
				switch b.flatType {
				case "":
					if p["type"] != "object" || p["enabled"] != false {
						t.Errorf("%s = %v, want an object with enabled false", f, p)
					}
				default:
					if p["type"] != b.flatType {
						t.Errorf("%s = %v, want %s", f, p, b.flatType)
					}
				}
			}
			// sourceIPAddress holds service names too: keyword, with an ip
			// sub-field that skips them instead of rejecting the document.
			src := obj(t, props["sourceIPAddress"], "sourceIPAddress")
			ip := obj(t, obj(t, src["fields"], "sourceIPAddress.fields")["ip"], "sourceIPAddress.fields.ip")
			if src["type"] != "keyword" || ip["type"] != "ip" || ip["ignore_malformed"] != true {
				t.Errorf("sourceIPAddress = %v", src)
			}
			for _, f := range []string{"eventID", "eventName", "eventSource", "awsRegion", "recipientAccountId", "opsworks_variant", "errorCode"} {
				if obj(t, props[f], f)["type"] != "keyword" {
					t.Errorf("%s is not a keyword", f)
				}
			}
		})
	}
}

// checkTypes walks properties (and their multi-fields and sub-properties).
func checkTypes(t *testing.T, b backend, where string, props map[string]any) {
	t.Helper()
	for name, v := range props {
		checkField(t, b, where+"."+name, obj(t, v, where+"."+name))
	}
}

func checkField(t *testing.T, b backend, where string, f map[string]any) {
	t.Helper()
	typ, _ := f["type"].(string)
	if typ == "" && f["properties"] == nil {
		t.Errorf("%s has no type", where)
	}
	if typ != "" && !b.types[typ] {
		t.Errorf("%s: type %q is not an %s field type", where, typ, strings.TrimSuffix(b.file, "-index-template.json"))
	}
	if sub, ok := f["properties"].(map[string]any); ok {
		checkTypes(t, b, where, sub)
	}
	if sub, ok := f["fields"].(map[string]any); ok {
		checkTypes(t, b, where+"(fields)", sub)
	}
}

// The three templates are one design: they differ only in how heterogeneous
// objects are stored.
func TestTemplatesAgree(t *testing.T) {
	for _, b := range backends[1:] {
		other := readJSON(t, b.file)
		norm := func(tmpl map[string]any) map[string]any {
			props := mappings(t, tmpl)["properties"].(map[string]any)
			for _, f := range heterogeneous {
				props[f] = "stored whole"
			}
			return tmpl
		}
		a, o := norm(readJSON(t, "elasticsearch-index-template.json")), norm(other)
		if !reflect.DeepEqual(a, o) {
			ja, _ := json.MarshalIndent(a, "", " ")
			jo, _ := json.MarshalIndent(o, "", " ")
			t.Errorf("%s differs from the Elasticsearch template beyond the heterogeneous objects:\n%s\n---\n%s", b.file, ja, jo)
		}
	}
}

// The mapping and the JSON Schema describe the same fields.
func TestTemplateMatchesSchema(t *testing.T) {
	props := mappings(t, readJSON(t, "elasticsearch-index-template.json"))["properties"].(map[string]any)
	sch := readJSON(t, "opsworks-event.schema.json")
	defs := sch["$defs"].(map[string]any)
	schemaProps := map[string]any{}
	for _, def := range []string{"event", "integrityRecord", "errorRecord"} { // all three share the index
		for f, v := range defs[def].(map[string]any)["properties"].(map[string]any) {
			schemaProps[f] = v
		}
	}
	for f := range schemaProps {
		if props[f] == nil {
			t.Errorf("schema field %s is not mapped explicitly", f)
		}
	}
	for f := range props {
		// Explicit userIdentity_* keys (alias targets) fall under the schema's
		// ^userIdentity_ pattern; objects of aliases only (cloud, aws, …)
		// hold no data of their own.
		if schemaProps[f] == nil && f != "@timestamp" && !strings.HasPrefix(f, "userIdentity_") && !onlyAliases(props[f].(map[string]any)) {
			t.Errorf("mapped field %s is not in the schema", f)
		}
	}
}

// Every top-level field of real filter output is covered by an explicit
// property or a specific dynamic template — not the unknown-strings catch-all,
// which is the safety net for fields CloudTrail adds in the future — and the
// covering mapping accepts the JSON type the field has.
func TestTemplatesCoverRealOutput(t *testing.T) {
	type seen struct {
		kinds map[string]bool
		n     int
	}
	fields := map[string]*seen{}
	for _, r := range realOutput(t) {
		// The es/opensearch outputs add @timestamp to every document.
		r.Body["@timestamp"] = "2024-05-31T22:00:40.000Z"
		for k, v := range r.Body {
			s := fields[k]
			if s == nil {
				s = &seen{kinds: map[string]bool{}}
				fields[k] = s
			}
			s.kinds[jsonKind(v)] = true
			s.n++
		}
	}
	for _, b := range backends {
		t.Run(b.file, func(t *testing.T) {
			m := mappings(t, readJSON(t, b.file))
			props := m["properties"].(map[string]any)
			dts := m["dynamic_templates"].([]any)
			var names []string
			for k := range fields {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, name := range names {
				for kind := range fields[name].kinds {
					if why := covered(props, dts, name, kind); why != "" {
						t.Errorf("%s (%s, in %d records): %s", name, kind, fields[name].n, why)
					}
				}
			}
			t.Logf("%d distinct top-level fields checked", len(names))
		})
	}
}

// jsonKind is Elasticsearch's name for the JSON type of v, as dynamic
// mapping sees it (match_mapping_type).
func jsonKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			return "double"
		}
		return "long"
	case float64:
		return "double"
	case []any:
		// Arrays take the type of their elements.
		for _, e := range x {
			return jsonKind(e)
		}
		return "null"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// covered says why a top-level field of the given JSON kind would be left to
// default dynamic mapping or rejected ("" if neither). A name with a dot is
// how Elasticsearch and OpenSearch see it: an object path, so its first
// segment arrives as an object and the rest as a sub-field.
func covered(props map[string]any, dts []any, name, kind string) string {
	if kind == "null" {
		return "" // null values add no mapping and always index
	}
	if head, _, dotted := strings.Cut(name, "."); dotted {
		if props[head] != nil {
			return fmt.Sprintf("expands into the explicitly mapped %s", head)
		}
		if tmpl := matchTemplate(dts, head, "object"); tmpl == nil || tmpl["type"] != "object" {
			return fmt.Sprintf("expands into an object %s that no dynamic template maps as an object", head)
		}
		if tmpl := matchTemplate(dts, name, kind); tmpl == nil || !accepts(tmpl, kind) {
			return "its leaf is not covered by a dynamic template"
		}
		return ""
	}
	if p, ok := props[name].(map[string]any); ok {
		if !accepts(p, kind) {
			return fmt.Sprintf("mapped as %v, which rejects a %s", p["type"], kind)
		}
		return ""
	}
	tmpl := matchTemplate(dts, name, kind)
	if tmpl == nil {
		return "left to default dynamic mapping"
	}
	if tmpl["catch-all"] == true {
		return "only the unknown-strings catch-all covers it; map it explicitly"
	}
	if !accepts(tmpl, kind) {
		return fmt.Sprintf("dynamic template maps it as %v, which rejects a %s", tmpl["type"], kind)
	}
	return ""
}

// matchTemplate returns the mapping of the first dynamic template matching a
// field at path p (top-level fields: path == name) of the given kind, as
// Elasticsearch selects it; a template without match/path_match gets
// "catch-all": true added to a copy of its mapping.
func matchTemplate(dts []any, p, kind string) map[string]any {
	name := p[strings.LastIndex(p, ".")+1:]
	for _, dt := range dts {
		for _, body := range dt.(map[string]any) {
			d := body.(map[string]any)
			if mt, ok := d["match_mapping_type"].(string); ok && mt != "*" && mt != kind {
				continue
			}
			if d["match_pattern"] == "regex" {
				panic("regex dynamic templates are not simulated; add them to matchTemplate")
			}
			if pat, ok := d["match"].(string); ok && !wildcard(pat, name) {
				continue
			}
			if pat, ok := d["path_match"].(string); ok && !wildcard(pat, p) {
				continue
			}
			if pat, ok := d["unmatch"].(string); ok && wildcard(pat, name) {
				continue
			}
			if pat, ok := d["path_unmatch"].(string); ok && wildcard(pat, p) {
				continue
			}
			m := map[string]any{}
			for k, v := range d["mapping"].(map[string]any) {
				m[k] = v
			}
			if d["match"] == nil && d["path_match"] == nil {
				m["catch-all"] = true
			}
			return m
		}
	}
	return nil
}

// wildcard is Elasticsearch's "simple" match: '*' matches any run of
// characters, including dots.
func wildcard(pat, s string) bool {
	// path.Match treats '/' specially and '*' does not cross it; field names
	// may contain '/', so replace it by a character field names never have.
	ok, _ := path.Match(strings.ReplaceAll(pat, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00"))
	return ok
}

// accepts says whether a field mapped as m takes a JSON value of kind.
func accepts(m map[string]any, kind string) bool {
	switch m["type"] {
	case "keyword", "text", "wildcard", "constant_keyword", "match_only_text":
		return kind != "object"
	case "date", "date_nanos":
		return kind == "string" || kind == "long" || (m["ignore_malformed"] == true && kind != "object")
	case "boolean":
		return kind == "boolean" || kind == "string"
	case "long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float":
		return kind == "long" || kind == "double" || kind == "string"
	case "ip":
		return kind == "string"
	case "flattened", "flat_object":
		return kind == "object"
	case "object", nil, "nested":
		return kind == "object"
	}
	return false
}

// onlyAliases reports whether a mapped object's leaves are all aliases.
func onlyAliases(f map[string]any) bool {
	sub, ok := f["properties"].(map[string]any)
	if !ok {
		return f["type"] == "alias"
	}
	for _, v := range sub {
		if !onlyAliases(v.(map[string]any)) {
			return false
		}
	}
	return true
}

// ecsAliases is what the templates promise Kibana / OpenSearch Dashboards
// users and Elastic's CloudTrail content (the aws.cloudtrail.* names of its
// integration): each name an alias of the record's own field. Written out
// here, independently of the templates, as the specification.
var ecsAliases = map[string]string{
	"event.action":                               "eventName",
	"event.provider":                             "eventSource",
	"event.id":                                   "eventID",
	"cloud.region":                               "awsRegion",
	"cloud.account.id":                           "recipientAccountId",
	"source.address":                             "sourceIPAddress",
	"user.id":                                    "userIdentity_principalId",
	"user_agent.original":                        "userAgent",
	"tls.cipher":                                 "tlsDetails.cipherSuite",
	"tls.client.server_name":                     "tlsDetails.clientProvidedHostHeader",
	"aws.cloudtrail.event_version":               "eventVersion",
	"aws.cloudtrail.event_type":                  "eventType",
	"aws.cloudtrail.event_category":              "eventCategory",
	"aws.cloudtrail.request_id":                  "requestID",
	"aws.cloudtrail.shared_event_id":             "sharedEventID",
	"aws.cloudtrail.recipient_account_id":        "recipientAccountId",
	"aws.cloudtrail.vpc_endpoint_id":             "vpcEndpointId",
	"aws.cloudtrail.read_only":                   "readOnly",
	"aws.cloudtrail.management_event":            "managementEvent",
	"aws.cloudtrail.error_code":                  "errorCode",
	"aws.cloudtrail.error_message":               "errorMessage",
	"aws.cloudtrail.user_identity.type":          "userIdentity_type",
	"aws.cloudtrail.user_identity.arn":           "userIdentity_arn",
	"aws.cloudtrail.user_identity.access_key_id": "userIdentity_accessKeyId",
	"aws.cloudtrail.user_identity.invoked_by":    "userIdentity_invokedBy",
	"aws.cloudtrail.user_identity.session_context.mfa_authenticated":           "userIdentity_sessionContext_attributes_mfaAuthenticated",
	"aws.cloudtrail.user_identity.session_context.session_issuer.type":         "userIdentity_sessionContext_sessionIssuer_type",
	"aws.cloudtrail.user_identity.session_context.session_issuer.principal_id": "userIdentity_sessionContext_sessionIssuer_principalId",
	"aws.cloudtrail.user_identity.session_context.session_issuer.arn":          "userIdentity_sessionContext_sessionIssuer_arn",
	"aws.cloudtrail.user_identity.session_context.session_issuer.account_id":   "userIdentity_sessionContext_sessionIssuer_accountId",
}

// fieldAt resolves a dotted field path through properties the way
// Elasticsearch names mapped fields (object properties only; multi-fields
// are not alias targets here).
func fieldAt(props map[string]any, path string) map[string]any {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		f, ok := props[p].(map[string]any)
		if !ok {
			return nil
		}
		if i == len(parts)-1 {
			return f
		}
		if props, ok = f["properties"].(map[string]any); !ok {
			return nil
		}
	}
	return nil
}

// collectAliases lists every alias in props as name → target path.
func collectAliases(prefix string, props map[string]any, out map[string]string) {
	for name, v := range props {
		f := v.(map[string]any)
		if f["type"] == "alias" {
			out[prefix+name], _ = f["path"].(string)
		}
		if sub, ok := f["properties"].(map[string]any); ok {
			collectAliases(prefix+name+".", sub, out)
		}
	}
}

// leafPaths lists the dotted paths of a document's leaves, as Elasticsearch
// maps them (a key with dots is an object path too).
func leafPaths(prefix string, m map[string]any, out map[string]bool) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			leafPaths(prefix+k+".", sub, out)
			continue
		}
		out[prefix+k] = true
	}
}

// The ECS aliases, checked as Elasticsearch 7.10+ and OpenSearch check them
// when the template is put (an alias's path must name a concrete field that
// is neither an object nor another alias) and against real output: no
// document writes to an alias (rejected: "Cannot write to a field alias"),
// and every target is a field the filter really emits, so no alias is dead
// through a misspelt target.
func TestECSAliases(t *testing.T) {
	out := realOutput(t)
	emitted := map[string]bool{}
	for _, r := range out {
		leafPaths("", r.Body, emitted)
	}
	for _, b := range backends {
		t.Run(b.file, func(t *testing.T) {
			props := mappings(t, readJSON(t, b.file))["properties"].(map[string]any)
			got := map[string]string{}
			collectAliases("", props, got)
			if !reflect.DeepEqual(got, ecsAliases) {
				t.Errorf("aliases differ from the specification:\n got %v\nwant %v", got, ecsAliases)
			}
			for name, target := range got {
				f := fieldAt(props, target)
				switch {
				case f == nil:
					t.Errorf("%s: target %s is not mapped explicitly", name, target)
				case f["type"] == "alias" || f["type"] == "object" || f["type"] == nil:
					t.Errorf("%s: target %s is a %v, not a concrete field", name, target, f["type"])
				}
				for k := range fieldAt(props, name) {
					if k != "type" && k != "path" {
						t.Errorf("%s: an alias takes only type and path, has %q", name, k)
					}
				}
				if emitted[name] {
					t.Errorf("%s: real output writes to this alias", name)
				}
				if !emitted[target] {
					t.Errorf("%s: target %s never occurs in real output", name, target)
				}
			}
			// The derived ECS fields (ecs_fields on) are concrete and emitted.
			for name, typ := range map[string]string{"event.outcome": "keyword", "user.name": "keyword", "source.ip": "ip"} {
				if f := fieldAt(props, name); f == nil || f["type"] != typ {
					t.Errorf("%s = %v, want a %s", name, f, typ)
				}
				if !emitted[name] {
					t.Errorf("%s never occurs in real output (ecs_fields on)", name)
				}
			}
		})
	}
}

// Elasticsearch 7.10 in its OSS distribution, which Amazon OpenSearch
// Service runs for its "Elasticsearch 7.10" domains, has neither flattened
// (X-Pack), flat_object (OpenSearch 2.7), wildcard, constant_keyword (X-Pack)
// nor match_only_text (7.14). The legacy template must use none of them.
func TestLegacyTemplateFitsElasticsearch710OSS(t *testing.T) {
	oss := backend{file: "opensearch-legacy-index-template.json", types: map[string]bool{}}
	for _, typ := range []string{"keyword", "text", "date", "date_nanos", "boolean", "ip", "object", "nested",
		"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "binary", "alias"} {
		oss.types[typ] = true
	}
	m := mappings(t, readJSON(t, oss.file))
	checkTypes(t, oss, "properties", m["properties"].(map[string]any))
	for i, dt := range m["dynamic_templates"].([]any) {
		for name, body := range dt.(map[string]any) {
			checkField(t, oss, fmt.Sprintf("dynamic_templates[%d].%s", i, name), body.(map[string]any)["mapping"].(map[string]any))
		}
	}
}
