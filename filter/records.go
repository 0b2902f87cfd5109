package filter

// Helpers for code that drives the processor without Fluent Bit (the CLI,
// tests, benchmarks): build chunks and read results back.

// AppendTextRecord appends a record {key: text} at time t, the shape `tail`
// produces without a parser; the processor reads it with source_key = key.
func AppendTextRecord(chunk []byte, t EventTime, key string, text []byte) []byte {
	b := appendRecordHeader(chunk, t, nil)
	b = appendMapHeader(b, 1)
	b = appendString(b, key)
	return appendStr(b, text)
}

// AppendValueRecord appends a record whose body is v.
func AppendValueRecord(chunk []byte, t EventTime, v *Value) []byte {
	return appendRecord(chunk, t, nil, v)
}

// ForEachRecord decodes every record of a chunk and calls fn with its time
// and body. The body is only valid during the call.
func ForEachRecord(chunk []byte, fn func(t EventTime, body *Value) error) error {
	var a Arena
	for off := 0; off < len(chunk); {
		a.reset()
		rec, next, err := splitRecord(chunk, off, &a)
		if err != nil {
			return err
		}
		var body Value
		d := msgpackDecoder{buf: rec.body, maxDepth: 1 << 10, arena: &a}
		if err := d.decode(&body, 0); err != nil {
			return err
		}
		if err := fn(rec.time, &body); err != nil {
			return err
		}
		off = next
	}
	return nil
}

// TagOf is the tag the plugin gives an output body: error_tag (or the
// incoming tag) for error records, tag_prefix+variant for classified events,
// the incoming tag for the rest. It lets retag-off runs (the CLI) report tags.
func (c *Config) TagOf(body *Value, incoming string) string {
	if body.Get(FieldError) != nil {
		if c.ErrorTag != "" {
			return c.ErrorTag
		}
		return incoming
	}
	if v := body.Get(FieldVariant); v != nil && v.Kind == KindString {
		return c.TagPrefix + string(v.Str)
	}
	return incoming
}

// NewArena returns a decoding arena for DecodeJSON.
func NewArena() *Arena { return &Arena{} }
