package corpus

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// obj is a JSON object that keeps its key order. CloudTrail writes fields in a
// stable, meaningful order (eventVersion, userIdentity, eventTime, …), and the
// filter under test preserves order, so the corpus must not re-sort keys the
// way encoding/json does with maps.
type obj []field

type field struct {
	k string
	v any
}

// o builds an obj from alternating keys and values. A value of type omit is
// dropped, which keeps optional fields readable at the call site.
func o(kv ...any) obj {
	out := make(obj, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if _, skip := kv[i+1].(omit); skip {
			continue
		}
		out = append(out, field{kv[i].(string), kv[i+1]})
	}
	return out
}

// omit marks an optional field as absent in o(...).
type omit struct{}

// opt returns v, or omit when present is false.
func opt(present bool, v any) any {
	if !present {
		return omit{}
	}
	return v
}

// appendJSON encodes the value types the generator uses. It is compact and
// does not HTML-escape, like CloudTrail's own output.
func appendJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return strconv.AppendFloat(b, x, 'f', -1, 64)
	case string:
		return appendString(b, x)
	case obj:
		b = append(b, '{')
		for i, f := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f.k)
			b = append(b, ':')
			b = appendJSON(b, f.v)
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case []string:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, e)
		}
		return append(b, ']')
	case []obj:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	}
	panic(fmt.Sprintf("corpus: cannot encode %T", v)) // a generator bug, not an input problem
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string, escaping only what RFC 8259 requires.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...) // the generator never produces this; keep the output valid anyway
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		i++
	}
	return append(b, '"')
}
