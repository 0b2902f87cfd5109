package filter

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/record"
)

// leaves flattens a decoded JSON object independently of the filter's code,
// as the expected result: nested objects recurse, empty ones vanish.
func leaves(prefix, sep string, m map[string]any, out map[string]any) {
	for k, v := range m {
		key := prefix + sep + k
		if sub, ok := v.(map[string]any); ok {
			leaves(key, sep, sub, out)
			continue
		}
		out[key] = v
	}
}

func TestFlattenEveryIdentityType(t *testing.T) {
	cases := []struct {
		file string
		must []string // keys that must be present
	}{
		{"root.json", []string{"userIdentity_type", "userIdentity_arn"}},
		{"iamuser.json", []string{"userIdentity_userName", "userIdentity_accessKeyId"}},
		{"assumedrole.json", []string{"userIdentity_sessionContext_sessionIssuer_userName", "userIdentity_sessionContext_attributes_mfaAuthenticated", "userIdentity_sessionContext_sourceIdentity"}},
		{"federateduser.json", []string{"userIdentity_sessionContext_sessionIssuer_type", "userIdentity_sessionContext_attributes_creationDate"}},
		{"awsservice.json", []string{"userIdentity_invokedBy"}},
		{"awsaccount.json", []string{"userIdentity_accountId", "userIdentity_invokedBy"}},
		{"identitycenter.json", []string{"userIdentity_onBehalfOf_userId", "userIdentity_onBehalfOf_identityStoreArn", "userIdentity_credentialId"}},
		{"webidentity.json", []string{"userIdentity_sessionContext_webIdFederationData_federatedProvider"}},
		{"samluser.json", []string{"userIdentity_identityProvider", "userIdentity_userName"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			doc := readTestdata(t, filepath.Join("identity", tc.file))
			p := NewProcessor(mustConfig(t, nil), nil)
			_, recs := run(t, p, chunkFromJSON(t, doc))
			if len(recs) != 1 {
				t.Fatalf("got %d records", len(recs))
			}
			got := recs[0].Body
			var in map[string]any
			if err := json.Unmarshal([]byte(doc), &in); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{}
			leaves("userIdentity", "_", in["userIdentity"].(map[string]any), want)
			for k, v := range want {
				if gv, ok := got[k]; !ok || !jsonEqual(gv, v) {
					t.Errorf("%s = %v, want %v", k, gv, v)
				}
			}
			for k, v := range got {
				if strings.HasPrefix(k, "userIdentity") {
					if _, ok := want[k]; !ok {
						t.Errorf("unexpected key %s = %v", k, v)
					}
					if _, isMap := v.(map[string]any); isMap {
						t.Errorf("%s is still nested", k)
					}
				}
			}
			for _, k := range tc.must {
				if _, ok := got[k]; !ok {
					t.Errorf("missing %s; got keys %v", k, keys(got))
				}
			}
			if _, ok := got["userIdentity"]; ok {
				t.Error("nested userIdentity was not removed")
			}
			// Every other field survives unchanged.
			for k, v := range in {
				if k != "userIdentity" && !jsonEqual(got[k], v) {
					t.Errorf("field %s changed: %v → %v", k, v, got[k])
				}
			}
		})
	}
}

func TestFlattenSeparatorAndPosition(t *testing.T) {
	doc := readTestdata(t, "identity/assumedrole.json")
	p := NewProcessor(mustConfig(t, map[string]string{"separator": "."}), nil)
	res, _ := run(t, p, chunkFromJSON(t, doc))
	// Order matters to readers of the raw output: flattened keys take the
	// position userIdentity had (it comes last in this file).
	var a record.Arena
	rec, _, err := record.SplitRecord(res.Emits[0].Records, 0, &a)
	if err != nil {
		t.Fatal(err)
	}
	var body record.Value
	if _, _, err := record.DecodeMsgpack(rec.Body, 0, 64, &a, &body); err != nil {
		t.Fatal(err)
	}
	var order []string
	for i := 0; i < len(body.Items); i += 2 {
		order = append(order, body.Items[i].String())
	}
	joined := strings.Join(order, " ")
	if !strings.Contains(joined, "recipientAccountId userIdentity.type userIdentity.principalId") {
		t.Fatalf("flattened keys not in userIdentity's position: %s", joined)
	}
	if !strings.Contains(joined, "userIdentity.sessionContext.sessionIssuer.userName") {
		t.Fatalf("separator not applied: %s", joined)
	}
}

func TestVariantRules(t *testing.T) {
	// One processor for the whole table: later rows rely on what earlier rows taught it.
	steps := []struct {
		file, want string
	}{
		{"request_engine.json", VariantChefAutomate},
		{"response_server_engine.json", VariantPuppetEnterprise},
		{"response_backup_engine.json", VariantChefAutomate},
		{"servers_unanimous.json", VariantPuppetEnterprise},
		{"servers_mixed.json", VariantCMUnknown},
		{"attribute_name.json", VariantChefAutomate},
		{"engine_attributes.json", VariantPuppetEnterprise},
		{"engine_model.json", VariantPuppetEnterprise},
		{"unknown.json", VariantCMUnknown},
		{"memory_after_create.json", VariantChefAutomate},  // chef-a learned from CreateServer
		{"memory_from_describe.json", VariantChefAutomate}, // m2 learned from DescribeServers
		{"memory_other_region.json", VariantCMUnknown},     // same name, other region
	}
	p := NewProcessor(mustConfig(t, nil), nil)
	for _, s := range steps {
		_, recs := run(t, p, chunkFromJSON(t, readTestdata(t, filepath.Join("variant", s.file))))
		if len(recs) != 1 {
			t.Fatalf("%s: %d records", s.file, len(recs))
		}
		if got := recs[0].Body[FieldVariant]; got != s.want || recs[0].Tag != "opsworks."+s.want {
			t.Errorf("%s: variant %v tag %q, want %s", s.file, got, recs[0].Tag, s.want)
		}
	}
}

func TestVariantMemoryDisabledAndBounded(t *testing.T) {
	create := readTestdata(t, "variant/request_engine.json")
	later := readTestdata(t, "variant/memory_after_create.json")
	p := NewProcessor(mustConfig(t, map[string]string{"server_memory_size": "0"}), nil)
	_, recs := run(t, p, chunkFromJSON(t, create, later))
	if recs[1].Body[FieldVariant] != VariantCMUnknown {
		t.Fatalf("with server_memory_size 0, got %v", recs[1].Body[FieldVariant])
	}

	p = NewProcessor(mustConfig(t, map[string]string{"server_memory_size": "2"}), nil)
	var docs []string
	for _, name := range []string{"s1", "s2", "s3"} {
		docs = append(docs, strings.Replace(create, `"chef-a"`, `"`+name+`"`, 1))
	}
	run(t, p, chunkFromJSON(t, docs...))
	if n := p.RememberedServers(); n != 2 {
		t.Fatalf("memory holds %d servers, want the bound 2", n)
	}
	_, recs = run(t, p, chunkFromJSON(t, strings.Replace(later, `"chef-a"`, `"s1"`, 1), strings.Replace(later, `"chef-a"`, `"s3"`, 1)))
	if recs[0].Body[FieldVariant] != VariantCMUnknown || recs[1].Body[FieldVariant] != VariantChefAutomate {
		t.Fatalf("LRU eviction: s1 → %v (want evicted), s3 → %v", recs[0].Body[FieldVariant], recs[1].Body[FieldVariant])
	}
}

func TestRedaction(t *testing.T) {
	cases := []struct {
		name, req string
		opts      map[string]string
		want      string // expected requestParameters as JSON
	}{
		{"attribute pair", `{"attributeName":"CHEF_PIVOTAL_KEY","attributeValue":"-----BEGIN RSA"}`, nil,
			`{"attributeName":"CHEF_PIVOTAL_KEY","attributeValue":"*** Redacted ***"}`},
		{"engine attributes", `{"engineAttributes":[{"name":"CHEF_DELIVERY_ADMIN_PASSWORD","value":"hunter2"},{"name":"CHEF_ORGANIZATION","value":"default"}]}`, nil,
			`{"engineAttributes":[{"name":"CHEF_DELIVERY_ADMIN_PASSWORD","value":"*** Redacted ***"},{"name":"CHEF_ORGANIZATION","value":"default"}]}`},
		{"already redacted stays", `{"password":"*** Redacted ***","starterKit":"**redacted**"}`, nil,
			`{"password":"*** Redacted ***","starterKit":"**redacted**"}`},
		{"name fragments", `{"masterUserPassword":"abc","CHEF_STARTER_KIT":"zip","clientSecret":"s","apiToken":"t"}`, nil,
			`{"masterUserPassword":"*** Redacted ***","CHEF_STARTER_KIT":"*** Redacted ***","clientSecret":"*** Redacted ***","apiToken":"*** Redacted ***"}`},
		{"non-strings keep their type", `{"passwordResetRequired":true,"tokenCount":3}`, nil,
			`{"passwordResetRequired":true,"tokenCount":3}`},
		{"nested under sensitive key", `{"secrets":{"a":"x","b":["y",1]}}`, nil,
			`{"secrets":{"a":"*** Redacted ***","b":["*** Redacted ***",1]}}`},
		{"innocent fields", `{"stackId":"s-1","customJson":"{}","name":"web"}`, nil,
			`{"stackId":"s-1","customJson":"{}","name":"web"}`},
		{"ssh keys of app and cookbook sources", `{"appSource":{"type":"git","url":"git@example.com:a.git","sshKey":"-----BEGIN OPENSSH PRIVATE KEY-----"}}`, nil,
			`{"appSource":{"type":"git","url":"git@example.com:a.git","sshKey":"*** Redacted ***"}}`},
		{"environment variables", `{"environment":[{"key":"DB_PASSWORD","value":"pw","secure":false},{"key":"API_URL","value":"https://x","secure":true},{"key":"REGION","value":"us-east-1","secure":false}]}`, nil,
			`{"environment":[{"key":"DB_PASSWORD","value":"*** Redacted ***","secure":false},{"key":"API_URL","value":"*** Redacted ***","secure":true},{"key":"REGION","value":"us-east-1","secure":false}]}`},
		{"configurable list", `{"customJson":"{\"pw\":1}","password":"p"}`, map[string]string{"redact_keys": "customjson"},
			`{"customJson":"*** Redacted ***","password":"p"}`},
		{"switched off", `{"password":"p"}`, map[string]string{"redact": "off"}, `{"password":"p"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := `{"eventSource":"opsworks.amazonaws.com","eventName":"X","eventTime":"2020-01-01T00:00:00Z","userIdentity":{"type":"IAMUser","accessKeyId":"AKIA1"},"requestParameters":` + tc.req + `}`
			p := NewProcessor(mustConfig(t, tc.opts), nil)
			_, recs := run(t, p, chunkFromJSON(t, ev))
			var want any
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if got := recs[0].Body["requestParameters"]; !jsonEqual(got, want) {
				t.Fatalf("requestParameters = %v\nwant %v", got, want)
			}
			if recs[0].Body["userIdentity_accessKeyId"] != "AKIA1" {
				t.Fatal("identity fields must never be redacted")
			}
		})
	}
}

func TestEventTime(t *testing.T) {
	cases := []struct {
		eventTime   string
		opts        map[string]string
		sec, nsec   int64
		wantWarning bool
	}{
		{`"2014-05-28T16:05:29Z"`, nil, 1401293129, 0, false},
		{`"2021-03-04T05:06:07.250Z"`, nil, 1614834367, 250000000, false},
		{`"2021-03-04T06:06:07+01:00"`, nil, 1614834367, 0, false},
		{`"2021-02-30T00:00:00Z"`, nil, 1000, 0, true},
		{`"2021-03-04T05:06:07.123456789Z"`, nil, 1614834367, 123456789, false},
		{`"2021-03-04T05:06:07.1234567891Z"`, nil, 1000, 0, true},
		{`"yesterday"`, nil, 1000, 0, true},
		{`12345`, nil, 1000, 0, true},
		{`"2014-05-28T16:05:29Z"`, map[string]string{"use_event_time": "off"}, 1000, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.eventTime, func(t *testing.T) {
			ev := `{"eventSource":"opsworks.amazonaws.com","eventName":"X","eventTime":` + tc.eventTime + `}`
			p := NewProcessor(mustConfig(t, tc.opts), nil)
			_, recs := run(t, p, chunkFromJSON(t, ev))
			r := recs[0]
			if r.Time.Sec != tc.sec || r.Time.Nsec != tc.nsec {
				t.Fatalf("time = %+v, want %d.%09d", r.Time, tc.sec, tc.nsec)
			}
			w, has := r.Body[FieldWarning].(string)
			if has != tc.wantWarning || (has && !strings.Contains(w, "eventTime")) {
				t.Fatalf("warning = %q, want present=%v", w, tc.wantWarning)
			}
			if has && r.Tag != "opsworks.stacks" {
				t.Fatal("an event with a bad eventTime is still a good event: it must be tagged")
			}
		})
	}
}

func TestRecordShapes(t *testing.T) {
	ev := readTestdata(t, "identity/iamuser.json")
	cm := readTestdata(t, "variant/request_engine.json")
	ec2 := `{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventTime":"2020-01-01T00:00:00Z"}`
	cases := []struct {
		name     string
		opts     map[string]string
		record   string
		variants []string // expected emitted variants, in order
		passed   bool     // record passes through untouched
	}{
		{"single event", nil, ev, []string{VariantStacks}, false},
		{"log file", nil, `{"Records":[` + ev + `,` + ec2 + `,` + cm + `]}`, []string{VariantStacks, VariantChefAutomate}, false},
		{"empty log file", nil, `{"Records":[]}`, nil, false},
		{"eventbridge", nil, `{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.opsworks","detail":` + ev + `}`, []string{VariantStacks}, false},
		{"cloudwatch logs", nil, `{"messageType":"DATA_MESSAGE","logGroup":"ct","logEvents":[{"id":"1","timestamp":1,"message":` + jsonQuote(ev) + `},{"id":"2","timestamp":1,"message":` + jsonQuote(ec2) + `}]}`, []string{VariantStacks}, false},
		{"cloudwatch control message", nil, `{"messageType":"CONTROL_MESSAGE","logEvents":[{"id":"1","message":"CWL CONTROL MESSAGE: Checking health"}]}`, nil, true},
		{"text event", map[string]string{"source_key": "log"}, `{"log":` + jsonQuote(ev) + `}`, []string{VariantStacks}, false},
		{"text log file", map[string]string{"source_key": "log"}, `{"log":` + jsonQuote(`{"Records":[`+cm+`,`+ev+`]}`) + `}`, []string{VariantChefAutomate, VariantStacks}, false},
		{"text not json", map[string]string{"source_key": "log"}, `{"log":"GET /index.html 200"}`, nil, true},
		{"text key absent", map[string]string{"source_key": "log"}, `{"message":"hi"}`, nil, true},
		{"other record", nil, `{"log":"hello","level":"info"}`, nil, true},
		{"digest file", nil, `{"awsAccountId":"1","digestStartTime":"2020-01-01T00:00:00Z","logFiles":[]}`, nil, true},
		{"insight event", nil, `{"Records":[{"eventVersion":"1.07","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventType":"AwsCloudTrailInsight","insightDetails":{"state":"Start"}}]}`, nil, false},
		{"not a map", nil, `["a",1]`, nil, true},
		{"detail without detail-type", nil, `{"detail":{"eventSource":"opsworks.amazonaws.com"}}`, nil, true},
		{"eventbridge other detail-type", nil, `{"detail-type":"EC2 Instance State-change Notification","detail":{"state":"running"}}`, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewProcessor(mustConfig(t, tc.opts), nil)
			chunk := chunkFromJSON(t, tc.record)
			res, recs := run(t, p, chunk)
			if tc.passed {
				if res.Modified || string(res.Keep) != string(chunk) {
					t.Fatalf("record not passed through untouched (modified=%v)", res.Modified)
				}
				return
			}
			var got []string
			for _, r := range recs {
				if r.Tag == "" {
					t.Fatalf("unexpected record kept in the stream: %v", r.Body)
				}
				got = append(got, r.Body[FieldVariant].(string))
			}
			sort.Strings(got)
			want := append([]string(nil), tc.variants...)
			sort.Strings(want)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("variants %v, want %v", got, want)
			}
		})
	}
}

func TestRetagOffAndKeepOther(t *testing.T) {
	ev := readTestdata(t, "identity/iamuser.json")
	ec2 := `{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventTime":"2020-01-01T00:00:00Z","userIdentity":{"type":"Root"}}`
	p := NewProcessor(mustConfig(t, map[string]string{"retag": "off", "keep_other_events": "on"}), nil)
	res, recs := run(t, p, chunkFromJSON(t, `{"Records":[`+ev+`,`+ec2+`]}`))
	if len(res.Emits) != 0 || len(recs) != 2 {
		t.Fatalf("retag off must keep all in the stream: emits=%d records=%d", len(res.Emits), len(recs))
	}
	if recs[0].Body[FieldVariant] != VariantStacks {
		t.Fatalf("variant field missing with retag off: %v", recs[0].Body)
	}
	if _, ok := recs[1].Body[FieldVariant]; ok || recs[1].Body["userIdentity_type"] != "Root" {
		t.Fatalf("kept other event: want flattened, unclassified: %v", recs[1].Body)
	}
}

// Fields beside Records (the S3 input's provenance) are copied into each event;
// an event's own field of the same name wins.
func TestLogFileSiblingFieldsCarried(t *testing.T) {
	ev := readTestdata(t, "identity/iamuser.json")
	p := NewProcessor(mustConfig(t, nil), nil)
	_, recs := run(t, p, chunkFromJSON(t, `{"Records":[`+ev+`],"s3_bucket":"trail","s3_key":"AWSLogs/1/x.json.gz","eventID":"not-this"}`))
	b := recs[0].Body
	if b["s3_bucket"] != "trail" || b["s3_key"] != "AWSLogs/1/x.json.gz" || b["eventID"] != "id-iamuser" {
		t.Fatalf("got %v", b)
	}
	if _, ok := b["Records"]; ok {
		t.Fatal("Records copied into the event")
	}
}

func TestCustomEventSourcesAndTagPrefix(t *testing.T) {
	ec2 := `{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventTime":"2020-01-01T00:00:00Z"}`
	p := NewProcessor(mustConfig(t, map[string]string{"event_sources": "ec2.amazonaws.com", "tag_prefix": "audit."}), nil)
	_, recs := run(t, p, chunkFromJSON(t, ec2, readTestdata(t, "identity/iamuser.json")))
	if len(recs) != 1 || recs[0].Tag != "audit.ec2" || recs[0].Body[FieldVariant] != "ec2" {
		t.Fatalf("got %+v", recs)
	}
}

// Output fed back in (e.g. two filters in a row, retag off) is not changed
// again and never gets duplicate keys.
func TestIdempotent(t *testing.T) {
	p := NewProcessor(mustConfig(t, map[string]string{"retag": "off"}), nil)
	res, first := run(t, p, chunkFromJSON(t, readTestdata(t, "identity/assumedrole.json")))
	again := append([]byte(nil), res.Keep...)
	_, second := run(t, p, again)
	if !jsonEqual(first[0].Body, second[0].Body) {
		t.Fatalf("second pass changed the event:\n%v\n%v", first[0].Body, second[0].Body)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	cases := map[string]map[string]string{
		"max_depth":             {"max_depth": "lots"},
		"retag":                 {"retag": "maybe"},
		"event_sources":         {"event_sources": "opsworks"},
		"emitter_storage.type":  {"emitter_storage.type": "disk"},
		"emitter_mem_buf_limit": {"emitter_mem_buf_limit": "10 M"},
		"max_event_size":        {"max_event_size": "12Q"},
		"server_memory_size":    {"server_memory_size": "-1"},
		"warning_interval":      {"warning_interval": "often"},
		"tag_prefix":            {"tag_prefix": "a b"},
	}
	for key, kv := range cases {
		if _, err := LoadConfig(config.MapGetter(kv)); err == nil || !strings.HasPrefix(err.Error(), key+":") {
			t.Errorf("%v: error %v does not name %s", kv, err, key)
		}
	}
	c, err := LoadConfig(config.MapGetter{})
	if err != nil || !c.Retag || !c.UseEventTime || !c.Redact || c.Separator != "_" || c.TagPrefix != "opsworks." || len(c.EventSources) != 2 || c.MaxEventSize != 4_000_000 {
		t.Fatalf("defaults: %+v %v", c, err)
	}
}

func TestEmissionPieces(t *testing.T) {
	var e Emission
	for _, n := range []int{100, 100, 300, 50, 50} {
		e.add(make([]byte, n))
	}
	var sizes, counts []int
	for _, p := range e.Pieces(200) {
		sizes, counts = append(sizes, len(p.Records)), append(counts, p.Count)
	}
	if fmt.Sprint(sizes, counts) != "[200 300 100] [2 1 2]" {
		t.Fatalf("pieces %v %v", sizes, counts)
	}
	total := 0
	for _, p := range e.Pieces(1 << 20) {
		total += len(p.Records)
	}
	if total != len(e.Records) || len(e.Pieces(1<<20)) != 1 {
		t.Fatal("one piece when everything fits")
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// An empty recipientAccountId falls back to userIdentity.accountId for the
// server memory's account scope.
func TestVariantMemoryScopeFallback(t *testing.T) {
	ev := func(name, acct, req string) string {
		return `{"eventSource":"opsworks-cm.amazonaws.com","eventName":"` + name + `","awsRegion":"us-east-1","recipientAccountId":"","userIdentity":{"type":"IAMUser","accountId":"` + acct + `"},"requestParameters":` + req + `}`
	}
	p := NewProcessor(mustConfig(t, nil), nil)
	_, recs := run(t, p, chunkFromJSON(t,
		ev("CreateServer", "111", `{"serverName":"srv","engine":"Puppet"}`),
		ev("CreateBackup", "111", `{"serverName":"srv"}`),
		ev("CreateBackup", "222", `{"serverName":"srv"}`)))
	got := []any{recs[0].Body[FieldVariant], recs[1].Body[FieldVariant], recs[2].Body[FieldVariant]}
	want := []any{VariantPuppetEnterprise, VariantPuppetEnterprise, VariantCMUnknown}
	if !jsonEqual(got, want) {
		t.Fatalf("variants %v, want %v", got, want)
	}
}
