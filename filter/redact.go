package filter

// redact.go holds redaction: the redactor (redactValue, pairIsSensitive and
// the cached key-name check) and normalizeName for the redact keys.

import (
	"bytes"

	"github.com/opsworks-trail/opsworks-trail/record"
)

// redactor replaces secrets under sensitive key names. Each workspace has its
// own, so its cache needs no lock; the keys are the processor's, shared and
// read-only.
type redactor struct {
	keys      [][]byte        // normalized name fragments
	maxDepth  int             // max_depth: deeper values are left alone
	sensitive map[string]bool // redaction decision per key name, a cache
}

// redactValue replaces non-redacted strings under sensitive names. Name/value
// pairs ({"name": "CHEF_PIVOTAL_KEY", "value": …}) count as named by name.
func (r *redactor) redactValue(v *record.Value, sensitive bool, depth int) bool {
	if depth > r.maxDepth {
		return false
	}
	changed := false
	switch v.Kind {
	case record.KindString:
		if sensitive && !alreadyRedacted(v.Str) {
			*v = record.StringValue(Redacted)
			return true
		}
	case record.KindArray:
		for i := range v.Items {
			changed = r.redactValue(&v.Items[i], sensitive, depth+1) || changed
		}
	case record.KindMap:
		pairSensitive := r.pairIsSensitive(v)
		for i := 0; i+1 < len(v.Items); i += 2 {
			k := &v.Items[i]
			s := sensitive || (k.Kind == record.KindString && r.isSensitiveCached(k.Str))
			if pairSensitive && isPairValue(k) {
				s = true
			}
			changed = r.redactValue(&v.Items[i+1], s, depth+1) || changed
		}
	}
	if changed {
		v.Touch()
	}
	return changed
}

// pairIsSensitive reports whether a map is a name/value pair whose value is
// secret: named by a sensitive name ({"name": "CHEF_PIVOTAL_KEY", "value": …},
// {"attributeName": …, "attributeValue": …}, OpsWorks Stacks environment
// variables {"key": "DB_PASSWORD", "value": …}) or flagged {"secure": true}.
func (r *redactor) pairIsSensitive(v *record.Value) bool {
	for _, nk := range [...]string{"name", "attributeName", "Name", "key", "Key"} {
		if n := v.Get(nk); n != nil && n.Kind == record.KindString && r.isSensitiveCached(n.Str) {
			return true
		}
	}
	for _, sk := range [...]string{"secure", "Secure"} {
		if f := v.Get(sk); f != nil && f.Kind == record.KindBool && f.Num == 1 {
			return true
		}
	}
	return false
}

func isPairValue(k *record.Value) bool {
	return k.IsString("value") || k.IsString("attributeValue") || k.IsString("Value")
}

func alreadyRedacted(s []byte) bool {
	return len(s) == 0 || bytes.EqualFold(s, []byte(Redacted)) || bytes.EqualFold(s, []byte("**redacted**")) ||
		bytes.Equal(s, []byte("HIDDEN_DUE_TO_SECURITY_REASONS"))
}

// isSensitiveCached memoizes isSensitive per workspace (whose redactor r is):
// the same few hundred key names repeat in every event. The cache is bounded
// by a reset.
func (r *redactor) isSensitiveCached(name []byte) bool {
	if s, ok := r.sensitive[string(name)]; ok {
		return s
	}
	s := r.isSensitive(name)
	if r.sensitive == nil || len(r.sensitive) >= 4096 {
		r.sensitive = make(map[string]bool, 256)
	}
	r.sensitive[string(name)] = s
	return s
}

func (r *redactor) isSensitive(name []byte) bool {
	var buf [64]byte
	norm := normalizeName(buf[:0], name)
	for _, frag := range r.keys {
		if bytes.Contains(norm, frag) {
			return true
		}
	}
	return false
}

// normalizeName lower-cases name and drops '_' and '-'.
func normalizeName(dst, name []byte) []byte {
	for _, c := range name {
		switch {
		case c == '_' || c == '-':
		case c >= 'A' && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
