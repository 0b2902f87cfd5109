package filter

// utf8.go holds the UTF-8 check of an event (checkUTF8, invalidUTF8).

import (
	"fmt"
	"unicode/utf8"

	"github.com/opsworks-trail/opsworks-trail/record"
)

// checkUTF8 looks for invalid UTF-8 in ev only when the decoder saw some in
// the record (JSON text was validated by its parser).
func checkUTF8(ws *workspace, ev *record.Value) string {
	if !ws.mayHaveBadUTF8 {
		return ""
	}
	return invalidUTF8(ev, 0)
}

// invalidUTF8 returns the first key whose value (or name) is not valid UTF-8.
func invalidUTF8(v *record.Value, depth int) string {
	switch v.Kind {
	case record.KindString:
		if !utf8.Valid(v.Str) {
			return "a value"
		}
	case record.KindArray:
		for i := range v.Items {
			if bad := invalidUTF8(&v.Items[i], depth+1); bad != "" {
				return bad
			}
		}
	case record.KindMap:
		for i := 0; i+1 < len(v.Items); i += 2 {
			k := &v.Items[i]
			if k.Kind == record.KindString && !utf8.Valid(k.Str) {
				return fmt.Sprintf("key %q", k.Str)
			}
			if bad := invalidUTF8(&v.Items[i+1], depth+1); bad != "" {
				if bad == "a value" {
					return fmt.Sprintf("field %q", k.Str)
				}
				return bad
			}
		}
	}
	return ""
}
