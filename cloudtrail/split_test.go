package cloudtrail

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func split(doc string) ([]string, error) {
	var out []string
	err := splitRecords([]byte(doc), func(ev, _ []byte) { out = append(out, string(ev)) })
	return out, err
}

func TestSplitRecords(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"empty array", `{"Records":[]}`, nil},
		{"compact", `{"Records":[{"a":1},{"b":[2,3]}]}`, []string{`{"a":1}`, `{"b":[2,3]}`}},
		{"whitespace everywhere", " \n{ \"Records\" :\t[ {\"a\" : 1} ,\r\n {} ] } \n", []string{`{"a" : 1}`, `{}`}},
		{"other members around", `{"x":{"Records":[9]},"Records":[1,"two",null,true,false,-0.5e+3],"y":[]}`,
			[]string{`1`, `"two"`, `null`, `true`, `false`, `-0.5e+3`}},
		{"first Records wins", `{"Records":[1],"Records":[2]}`, []string{`1`}},
		{"escaped key", `{"Rec\u006frds":[1]}`, []string{`1`}},
		{"strings with escapes and brackets", `{"Records":[{"s":"a\"]}\\","t":"\u00e9\n"}]}`, []string{`{"s":"a\"]}\\","t":"\u00e9\n"}`}},
		{"long strings cross the 8-byte fast path", `{"Records":["` + strings.Repeat("abcdefg", 20) + `\"` + strings.Repeat("x", 13) + `"]}`,
			[]string{`"` + strings.Repeat("abcdefg", 20) + `\"` + strings.Repeat("x", 13) + `"`}},
		{"utf-8 passes through", `{"Records":["naïve ☃"]}`, []string{`"naïve ☃"`}},
		{"nested empties", `{"Records":[[[]],{"a":{}},[{}]]}`, []string{`[[]]`, `{"a":{}}`, `[{}]`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := split(tc.doc)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if strings.Join(got, "\x00") != strings.Join(tc.want, "\x00") {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestSplitRecordsErrors(t *testing.T) {
	tests := []struct {
		name   string
		doc    string
		reason Reason // for shape errors
		offset int    // for syntax errors (-1: not a syntax error)
		msg    string
	}{
		{"whitespace only", " \n", ReasonEmpty, -1, "whitespace"},
		{"no Records", `{"logFiles":[]}`, ReasonNoRecords, -1, "no \"Records\""},
		{"Records is an object", `{"Records":{"a":1}}`, ReasonRecordsNotArray, -1, "is an object"},
		{"Records is null", `{"Records":null}`, ReasonRecordsNotArray, -1, "is null"},
		{"top-level array", `[1]`, ReasonNoRecords, -1, "is an array"},
		{"not JSON", "\x28\xb5\x2f\xfd", ReasonNotJSON, -1, "starts with 28 b5 2f fd"},
		{"bad literal in element", `{"Records":[{"v":"1.01"ed}]}`, "", 23, "expected ',' or '}'"},
		{"trailing comma in element", `{"Records":[{"a":[1,]}]}`, "", 20, "expected a value"},
		{"unterminated string", `{"Records":["abc`, "", 12, "unterminated string"},
		{"control character", "{\"Records\":[\"a\x01\"]}", "", 14, "control character"},
		{"bad escape", `{"Records":["\x"]}`, "", 13, "invalid escape"},
		{"short unicode escape", `{"Records":["\u12"]}`, "", 13, "invalid \\u escape"},
		{"leading zero", `{"Records":[01]}`, "", 13, "expected ',' or ']'"},
		{"bare dot", `{"Records":[1.]}`, "", 14, "no digits after '.'"},
		{"empty exponent", `{"Records":[1e]}`, "", 14, "no digits in exponent"},
		{"minus alone", `{"Records":[-]}`, "", 13, "invalid number"},
		{"missing colon", `{"Records" []}`, "", 11, "expected ':'"},
		{"unquoted key", `{Records:[]}`, "", 1, "expected a string key"},
		{"unclosed array", `{"Records":[1`, "", 13, "expected ',' or ']'"},
		{"unclosed object", `{"Records":[]`, "", 13, "expected ',' or '}'"},
		{"garbage after", `{"Records":[]} {}`, "", 15, "after the end of the document"},
		{"invalid after Records", `{"Records":[1],"x":tru}`, "", 19, "expected \"true\""},
		{"deep nesting", `{"Records":[` + strings.Repeat("[", MaxNesting+1) + strings.Repeat("]", MaxNesting+1) + `]}`, "", 12 + MaxNesting, "nesting deeper"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := split(tc.doc)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
			var se *syntaxError
			var shape *shapeError
			switch {
			case tc.offset >= 0:
				if !errors.As(err, &se) || se.offset != tc.offset {
					t.Errorf("error %v: want a syntax error at byte %d", err, tc.offset)
				}
			case !errors.As(err, &shape) || shape.reason != tc.reason:
				t.Errorf("error %v: want reason %q", err, tc.reason)
			}
		})
	}
}

func TestSourceMatcher(t *testing.T) {
	m := newSourceMatcher([]string{"opsworks.amazonaws.com", "opsworks-cm.amazonaws.com"})
	tests := []struct {
		name string
		ev   string
		keep bool
	}{
		{"compact match", `{"eventSource":"opsworks.amazonaws.com","eventName":"DescribeStacks"}`, true},
		{"second source", `{"eventName":"CreateServer","eventSource":"opsworks-cm.amazonaws.com"}`, true},
		{"whitespace around the colon", `{"eventSource" :  "opsworks.amazonaws.com"}`, true},
		{"newline before value", "{\"eventSource\":\n\t\"opsworks-cm.amazonaws.com\"}", true},
		{"other source", `{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances"}`, false},
		{"prefix of a source is not a match", `{"eventSource":"opsworks.amazonaws.co"}`, false},
		{"source as a value elsewhere", `{"eventSource":"ec2.amazonaws.com","tags":[{"key":"eventSource","value":"opsworks.amazonaws.com"}]}`, false},
		{"source inside a string", `{"eventSource":"ec2.amazonaws.com","note":"\"eventSource\":\"opsworks.amazonaws.com\""}`, false},
		{"nested eventSource key does not count", `{"eventSource":"ec2.amazonaws.com","x":{"eventSource":"opsworks.amazonaws.com"}}`, false},
		{"insight event (source under insightDetails)", `{"eventType":"AwsCloudTrailInsight","insightDetails":{"eventSource":"opsworks.amazonaws.com"}}`, false},
		{"escaped value", `{"eventSource":"opsworks\u002eamazonaws.com"}`, true},
		{"escaped key", `{"event\u0053ource":"opsworks.amazonaws.com"}`, true},
		{"first of duplicate keys wins (as in the filter)", `{"eventSource":"ec2.amazonaws.com","eventSource":"opsworks.amazonaws.com"}`, false},
		{"first of duplicate keys wins, even when not a string", `{"eventSource":null,"eventSource":"opsworks.amazonaws.com"}`, false},
		{"not a string", `{"eventSource":["opsworks.amazonaws.com"]}`, false},
		{"no eventSource at all", `{"eventName":"x"}`, false},
		{"empty object", `{}`, false},
	}
	for _, tc := range tests {
		var kept []bool
		err := splitRecords([]byte(`{"Records":[`+tc.ev+`]}`), func(_, source []byte) { kept = append(kept, m.keep(source)) })
		if err != nil || len(kept) != 1 {
			t.Fatalf("%s: %v %v", tc.name, err, kept)
		}
		if kept[0] != tc.keep {
			t.Errorf("%s: keep(%s) = %v, want %v", tc.name, tc.ev, kept[0], tc.keep)
		}
	}
	all := newSourceMatcher(nil)
	if !all.keep(nil) || !all.keep([]byte("ec2.amazonaws.com")) {
		t.Error("no sources must keep everything")
	}
}

func TestMayNeedAttention(t *testing.T) {
	for c := 0; c < 256; c++ {
		w := []byte("abcdefgh")
		for pos := 0; pos < 8; pos++ {
			w2 := bytes.Clone(w)
			w2[pos] = byte(c)
			want := c == '"' || c == '\\' || c < 0x20
			if got := mayNeedAttention(leUint64(w2)); want && !got {
				t.Fatalf("byte 0x%02x at %d not flagged", c, pos)
			}
		}
	}
	if mayNeedAttention(leUint64([]byte("plain é~"))) {
		t.Error("plain text flagged")
	}
}

func leUint64(b []byte) uint64 {
	var w uint64
	for i := 7; i >= 0; i-- {
		w = w<<8 | uint64(b[i])
	}
	return w
}

// referenceSplit is the same split done by encoding/json: the elements of
// the first "Records" member, if the document is a valid object with an
// array there.
func referenceSplit(doc []byte) ([]json.RawMessage, bool) {
	if !json.Valid(doc) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var records json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, false
		}
		if tok == "Records" && records == nil {
			records = value
		}
	}
	var elems []json.RawMessage
	if records == nil || records[0] != '[' || json.Unmarshal(records, &elems) != nil {
		return nil, false
	}
	return elems, true
}

func FuzzSplitRecords(f *testing.F) {
	for _, seed := range []string{
		`{"Records":[]}`, `{"Records":[{"eventSource":"opsworks.amazonaws.com"},{"eventSource":"ec2.amazonaws.com"}]}`,
		`{"a":[1,{"b":null}],"Records":["x\"y",-1.5e3,true,[{}]]}`, `{"Rec\u006frds":[1]}`, `{"Records":{}}`,
		`[1,2]`, `{"Records":[1,]}`, `{"Records":["\ud800"]}`, "{\"Records\":[\"\xff\"]}", ``, `{`,
		`{"Records":[{"event\u0053ource":"opsworks.amazonaws.com"}]}`,
	} {
		f.Add([]byte(seed))
	}
	for _, name := range []string{"mixed.json", "pretty.json", "escaped.json", "trailing-comma.json"} {
		if b, err := readTestdata(name); err == nil {
			f.Add(b)
		}
	}
	match := newSourceMatcher([]string{"opsworks.amazonaws.com"})
	f.Fuzz(func(t *testing.T, doc []byte) {
		var got [][]byte
		var kept []bool
		err := splitRecords(doc, func(ev, source []byte) {
			got = append(got, ev)
			kept = append(kept, match.keep(source))
		})
		want, ok := referenceSplit(doc)
		if err != nil {
			if ok && !strings.Contains(err.Error(), "nesting deeper") {
				t.Fatalf("split failed on a valid log file: %v", err)
			}
			return
		}
		if !ok {
			t.Fatalf("split accepted what encoding/json rejects or is no log file: %q", doc)
		}
		if len(got) != len(want) {
			t.Fatalf("%d events, encoding/json finds %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("event %d = %q, encoding/json: %q", i, got[i], want[i])
			}
			if src, isString := firstEventSource(want[i]); kept[i] != (isString && src == "opsworks.amazonaws.com") {
				t.Fatalf("push-down kept=%v for an event whose first eventSource is %q (string: %v): %s", kept[i], src, isString, want[i])
			}
		}
	})
}

// firstEventSource is the value the filter selects on: the first top-level
// "eventSource" member, if the element is an object and that is a string.
func firstEventSource(ev []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(ev))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return "", false
		}
		var value any
		if err := dec.Decode(&value); err != nil {
			return "", false
		}
		if key == "eventSource" {
			s, ok := value.(string)
			return s, ok
		}
	}
	return "", false
}

func readTestdata(name string) ([]byte, error) { return os.ReadFile(filepath.Join("testdata", name)) }
