package filter

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// lookup follows a dotted path through decoded JSON; "" when absent.
func lookup(m map[string]any, path string) string {
	var v any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[p]
	}
	s, _ := v.(string)
	return s
}

// user.name per identity type: the path in the input event it must come
// from, or "" where the identity names no user.
func TestECSUserName(t *testing.T) {
	cases := []struct{ file, from string }{
		{"iamuser.json", "userIdentity.userName"},
		{"samluser.json", "userIdentity.userName"},
		{"assumedrole.json", "userIdentity.sessionContext.sessionIssuer.userName"},
		{"federateduser.json", "userIdentity.sessionContext.sessionIssuer.userName"},
		{"webidentity.json", "userIdentity.sessionContext.sessionIssuer.userName"},
		{"root.json", ""},
		{"awsservice.json", ""},
		{"awsaccount.json", ""},
		{"identitycenter.json", ""},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			doc := readTestdata(t, filepath.Join("identity", tc.file))
			var in map[string]any
			if err := json.Unmarshal([]byte(doc), &in); err != nil {
				t.Fatal(err)
			}
			want := ""
			if tc.from != "" {
				if want = lookup(in, tc.from); want == "" {
					t.Fatalf("testdata has no %s", tc.from)
				}
			}
			_, recs := run(t, NewProcessor(mustConfig(t, map[string]string{"ecs_fields": "on"}), nil), chunkFromJSON(t, doc))
			if len(recs) != 1 {
				t.Fatalf("got %d records", len(recs))
			}
			got := recs[0].Body
			if name := lookup(got, "user.name"); name != want {
				t.Errorf("user.name = %q, want %q", name, want)
			}
			if want == "" && got["user"] != nil {
				t.Errorf("user = %v, want no user object", got["user"])
			}
			// The flattened identity is unchanged beside it.
			if got["userIdentity_type"] != lookup(in, "userIdentity.type") {
				t.Errorf("userIdentity_type = %v", got["userIdentity_type"])
			}
		})
	}
}

func TestECSOutcomeAndSourceIP(t *testing.T) {
	cases := []struct {
		name, fields string // extra JSON members of the event
		outcome, ip  string
	}{
		{"success, IPv4", `"sourceIPAddress":"203.0.113.5"`, "success", "203.0.113.5"},
		{"errorCode, IPv6", `"errorCode":"AccessDenied","sourceIPAddress":"2001:db8::7"`, "failure", "2001:db8::7"},
		{"errorMessage only", `"errorMessage":"Server not found","sourceIPAddress":"AWS Internal"`, "failure", ""},
		{"empty errorCode", `"errorCode":"","sourceIPAddress":"opsworks.amazonaws.com"`, "success", ""},
		{"IPv6 with a zone", `"sourceIPAddress":"fe80::1%eth0"`, "success", ""},
		{"no sourceIPAddress", ``, "success", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := `{"eventSource":"opsworks.amazonaws.com","eventName":"DeleteStack","eventTime":"2024-05-31T22:00:40Z"`
			if tc.fields != "" {
				doc += "," + tc.fields
			}
			doc += "}"
			_, recs := run(t, NewProcessor(mustConfig(t, map[string]string{"ecs_fields": "on"}), nil), chunkFromJSON(t, doc))
			if len(recs) != 1 {
				t.Fatalf("got %d records", len(recs))
			}
			got := recs[0].Body
			if o := lookup(got, "event.outcome"); o != tc.outcome {
				t.Errorf("event.outcome = %q, want %q", o, tc.outcome)
			}
			if ip := lookup(got, "source.ip"); ip != tc.ip {
				t.Errorf("source.ip = %q, want %q", ip, tc.ip)
			}
			if tc.ip == "" && got["source"] != nil {
				t.Errorf("source = %v, want none", got["source"])
			}
		})
	}
}

// Off by default; on, a record that passes the filter twice keeps one copy
// of each object, and everything else is as without the option.
func TestECSFieldsOffAndTwice(t *testing.T) {
	doc := readTestdata(t, filepath.Join("identity", "assumedrole.json"))
	_, off := run(t, NewProcessor(mustConfig(t, nil), nil), chunkFromJSON(t, doc))
	for _, k := range []string{FieldECSEvent, FieldECSUser, FieldECSSource} {
		if _, ok := off[0].Body[k]; ok {
			t.Errorf("%s present with ecs_fields off", k)
		}
	}
	p := NewProcessor(mustConfig(t, map[string]string{"ecs_fields": "on", "retag": "off"}), nil)
	res, on := run(t, p, chunkFromJSON(t, doc))
	for k, v := range off[0].Body {
		if !reflect.DeepEqual(on[0].Body[k], v) {
			t.Errorf("%s = %v with ecs_fields on, %v without", k, on[0].Body[k], v)
		}
	}
	if len(on[0].Body) != len(off[0].Body)+3 { // event, user, source (the test event's address is an IP)
		t.Errorf("ecs_fields on added %d fields: %v", len(on[0].Body)-len(off[0].Body), on[0].Body)
	}
	res2, twice := run(t, p, res.Keep)
	if !reflect.DeepEqual(twice[0].Body, on[0].Body) || len(res2.Keep) != len(res.Keep) {
		t.Errorf("second pass changed the record:\n%v\n%v", twice[0].Body, on[0].Body)
	}
}
