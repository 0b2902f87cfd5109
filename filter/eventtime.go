package filter

// eventtime.go holds eventTime parsing (parseEventTime, fractionDigits,
// daysIn) and quoteValue for its warning.

import (
	"bytes"
	"fmt"
	"time"

	"github.com/opsworks-trail/opsworks-trail/record"
)

func quoteValue(v *record.Value) string {
	if v == nil {
		return "(missing)"
	}
	if len(v.Str) > 64 {
		return fmt.Sprintf("%q…", v.Str[:64])
	}
	return string(record.AppendJSON(nil, v))
}

// parseEventTime parses CloudTrail's eventTime ("2014-05-28T16:05:29Z"),
// falling back to full RFC 3339 for fractional seconds or offsets.
func parseEventTime(v *record.Value) (record.EventTime, bool) {
	if v == nil || v.Kind != record.KindString {
		return record.EventTime{}, false
	}
	s := v.Str
	if len(s) == 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == 'Z' {
		num := func(b []byte) (int, bool) {
			n := 0
			for _, c := range b {
				if c < '0' || c > '9' {
					return 0, false
				}
				n = n*10 + int(c-'0')
			}
			return n, true
		}
		y, ok1 := num(s[0:4])
		mo, ok2 := num(s[5:7])
		d, ok3 := num(s[8:10])
		h, ok4 := num(s[11:13])
		mi, ok5 := num(s[14:16])
		se, ok6 := num(s[17:19])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(mo, y) && h < 24 && mi < 60 && se < 60 {
			return record.EventTime{Sec: time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC).Unix()}, true
		}
		return record.EventTime{}, false
	}
	if fractionDigits(s) > 9 {
		// Go parses them, but Elasticsearch/OpenSearch dates stop at
		// nanoseconds: flag the event rather than ship an unindexable time.
		return record.EventTime{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		return record.EventTime{}, false
	}
	return record.EventTime{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}, true
}

// fractionDigits counts the digits after the seconds' '.' or ','.
func fractionDigits(s []byte) int {
	i := bytes.IndexAny(s, ".,")
	if i < 0 {
		return 0
	}
	n := 0
	for _, c := range s[i+1:] {
		if c < '0' || c > '9' {
			break
		}
		n++
	}
	return n
}

func daysIn(m, y int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
