package schema

import (
	"fmt"
	"strings"
	"testing"
)

// Every record the filter produces from realistic input is valid, and the
// input really exercises what the schema describes: all variants, all
// identity types, redaction, provenance.
func TestRealOutputValidates(t *testing.T) {
	sch := eventSchema(t)
	variants := map[string]int{}
	identities := map[string]int{}
	redacted, provenance, webIdentity := 0, 0, 0
	for i, r := range realOutput(t) {
		if err := sch.Validate(r.Body); err != nil {
			t.Fatalf("record %d (tag %s) is not valid:\n%v\nrecord: %v", i, r.Tag, err, r.Body)
		}
		if _, ok := r.Body["opsworks_error"]; ok {
			t.Errorf("realistic input produced an error record: %v", r.Body["opsworks_error"])
			continue
		}
		variants[fmt.Sprint(r.Body["opsworks_variant"])]++
		identities[fmt.Sprint(r.Body["userIdentity_type"])]++
		if strings.Contains(fmt.Sprint(r.Body), "*** Redacted ***") {
			redacted++
		}
		if r.Body["s3_key"] != nil {
			provenance++
		}
		if r.Body["userIdentity_sessionContext_webIdFederationData_federatedProvider"] != nil {
			webIdentity++
		}
	}
	for _, v := range []string{"stacks", "chef_automate", "puppet_enterprise", "cm_unknown"} {
		if variants[v] == 0 {
			t.Errorf("no %s event in the real output: %v", v, variants)
		}
	}
	for _, id := range []string{"Root", "IAMUser", "AssumedRole", "FederatedUser", "AWSService", "AWSAccount", "IdentityCenterUser", "SAMLUser"} {
		if identities[id] == 0 {
			t.Errorf("no %s identity in the real output: %v", id, identities)
		}
	}
	if redacted == 0 || provenance == 0 || webIdentity == 0 {
		t.Errorf("%d redacted records, %d with provenance, %d web-identity sessions: the input does not exercise the schema", redacted, provenance, webIdentity)
	}
	t.Logf("variants %v; identities %v; %d redacted, %d with s3 provenance, %d web-identity sessions", variants, identities, redacted, provenance, webIdentity)
}

// Bad input comes out as error records (the schema's other branch), which may
// hold anything — a nested userIdentity, raw JSON text — plus opsworks_error.
// Events with an unusable eventTime come out with opsworks_warning.
func TestErrorAndWarningRecordsValidate(t *testing.T) {
	sch := eventSchema(t)
	good := `{"eventVersion":"1.08","eventTime":"2024-05-31T22:00:40Z","eventSource":"opsworks.amazonaws.com","eventName":"DescribeStacks","awsRegion":"us-east-1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/ops","accountId":"111122223333"},"requestParameters":{},"responseElements":null,"eventID":"e1","recipientAccountId":"111122223333"}`
	cases := []struct {
		name     string
		opts     map[string]string
		chunk    []byte
		wantErrs int
		wantWarn int
	}{
		{"malformed JSON text (AWS documentation sample)", textOpts, textChunk([]byte(`{"Records":[{"eventVersion": "1.01"ed, "eventSource":"opsworks.amazonaws.com"}]}`)), 1, 0},
		{"trailing comma", textOpts, textChunk([]byte(`{"Records":[{"eventSource":"opsworks-cm.amazonaws.com","requestParameters":{"engineAttributes":[{"name":"CHEF_PIVOTAL_KEY"},]}}]}`)), 1, 0},
		{"Records is not an array", nil, valueChunk(t, []byte(`{"Records":"oops"}`)), 1, 0},
		{"element not an object", nil, valueChunk(t, []byte(`{"Records":[42,`+good+`]}`)), 1, 0},
		{"too deep", textOpts, textChunk([]byte(`{"Records":[` + strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100) + `]}`)), 1, 0},
		{"invalid UTF-8 keeps the nested userIdentity", textOpts, textChunk([]byte(strings.Replace(good, `"us-east-1"`, "\"us-east\xff1\"", 1))), 1, 0},
		{"EventBridge envelope without event", nil, valueChunk(t, []byte(`{"detail-type":"AWS API Call via CloudTrail","detail":"nope"}`)), 1, 0},
		{"event larger than max_event_size", map[string]string{"max_event_size": "1K"}, valueChunk(t, []byte(`{"Records":[`+strings.Replace(good, `{}`, `{"blob":"`+strings.Repeat("x", 2000)+`"}`, 1)+`]}`)), 1, 0},
		{"eventTime not RFC 3339", nil, valueChunk(t, []byte(strings.Replace(good, `"2024-05-31T22:00:40Z"`, `"yesterday"`, 1))), 0, 1},
		{"eventTime missing", nil, valueChunk(t, []byte(strings.Replace(good, `"eventTime":"2024-05-31T22:00:40Z",`, ``, 1))), 0, 1},
		{"eventTime with a comma fraction and an offset", nil, valueChunk(t, []byte(strings.Replace(good, `"2024-05-31T22:00:40Z"`, `"2024-05-31T22:00:40,5+02:00"`, 1))), 0, 0},
		{"error_tag", map[string]string{"source_key": "log", "error_tag": "cloudtrail.error"}, textChunk([]byte(`{"Records":[`)), 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recs := run(t, tc.opts, tc.chunk)
			errs, warns := 0, 0
			for _, r := range recs {
				if err := sch.Validate(r.Body); err != nil {
					t.Fatalf("record is not valid:\n%v\nrecord: %v", err, r.Body)
				}
				if _, ok := r.Body["opsworks_error"]; ok {
					errs++
				}
				if _, ok := r.Body["opsworks_warning"]; ok {
					warns++
				}
			}
			if errs != tc.wantErrs || warns != tc.wantWarn {
				t.Fatalf("%d error and %d warning records, want %d and %d: %v", errs, warns, tc.wantErrs, tc.wantWarn, recs)
			}
		})
	}
}

// The schema is not vacuous: records that would break a backend fail.
func TestWrongRecordsFail(t *testing.T) {
	sch := eventSchema(t)
	base := func() map[string]any {
		return map[string]any{
			"eventTime": "2024-05-31T22:00:40Z", "eventSource": "opsworks-cm.amazonaws.com", "eventName": "CreateServer",
			"awsRegion": "us-east-1", "eventID": "e1", "recipientAccountId": "111122223333",
			"userIdentity_type": "IAMUser", "userIdentity_arn": "arn:aws:iam::111122223333:user/ops",
			"requestParameters": map[string]any{"engine": "ChefAutomate"}, "responseElements": nil,
			"readOnly": false, "opsworks_variant": "chef_automate",
		}
	}
	if err := sch.Validate(base()); err != nil {
		t.Fatalf("the valid base record fails: %v", err)
	}
	cases := []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"nested userIdentity", func(m map[string]any) {
			m["userIdentity"] = map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ops"}
		}},
		{"flattened key holding an object", func(m map[string]any) {
			m["userIdentity_sessionContext"] = map[string]any{"attributes": map[string]any{"mfaAuthenticated": "true"}}
		}},
		{"flattened key holding an array of objects", func(m map[string]any) {
			m["userIdentity_x"] = []any{map[string]any{"a": "b"}}
		}},
		{"unknown variant", func(m map[string]any) { m["opsworks_variant"] = "chef" }},
		{"variant missing", func(m map[string]any) { delete(m, "opsworks_variant") }},
		{"Stacks event classified as Chef", func(m map[string]any) { m["eventSource"] = "opsworks.amazonaws.com" }},
		{"CM event classified as Stacks", func(m map[string]any) { m["opsworks_variant"] = "stacks" }},
		{"other service", func(m map[string]any) { m["eventSource"] = "ec2.amazonaws.com" }},
		{"eventTime not a date, no warning", func(m map[string]any) { m["eventTime"] = "2024-05-31 22:00:40" }},
		// The filter takes this without a warning; Elasticsearch's
		// strict_date_optional_time stops at 9 fractional digits.
		{"eventTime with 10 fractional digits", func(m map[string]any) { m["eventTime"] = "2024-05-31T22:00:40.1234567890Z" }},
		{"eventTime missing, no warning", func(m map[string]any) { delete(m, "eventTime") }},
		{"requestParameters as a string", func(m map[string]any) { m["requestParameters"] = `{"engine":"ChefAutomate"}` }},
		{"responseElements as an array", func(m map[string]any) { m["responseElements"] = []any{} }},
		{"readOnly as a string", func(m map[string]any) { m["readOnly"] = "false" }},
		{"empty opsworks_error", func(m map[string]any) { m["opsworks_error"] = "" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.mutate(m)
			if err := sch.Validate(m); err == nil {
				t.Fatalf("validates, want a failure: %v", m)
			}
		})
	}
}
