package record

// Helpers for code that drives the processor without Fluent Bit (the CLI,
// tests, benchmarks): build chunks and read results back.

// AppendTextRecord appends a record {key: text} at time t, the shape `tail`
// produces without a parser; the processor reads it with source_key = key.
func AppendTextRecord(chunk []byte, t EventTime, key string, text []byte) []byte {
	b := AppendRecordHeader(chunk, t, nil)
	b = AppendMapHeader(b, 1)
	b = AppendString(b, key)
	return appendStr(b, text)
}

// AppendValueRecord appends a record whose body is v.
func AppendValueRecord(chunk []byte, t EventTime, v *Value) []byte {
	return AppendRecord(chunk, t, nil, v)
}

// ForEachRecord decodes every record of a chunk and calls fn with its time
// and body. The body is only valid during the call.
func ForEachRecord(chunk []byte, fn func(t EventTime, body *Value) error) error {
	var a Arena
	for off := 0; off < len(chunk); {
		a.Reset()
		rec, next, err := SplitRecord(chunk, off, &a)
		if err != nil {
			return err
		}
		var body Value
		d := msgpackDecoder{buf: rec.Body, maxDepth: 1 << 10, arena: &a}
		if err := d.decode(&body, 0); err != nil {
			return err
		}
		if err := fn(rec.Time, &body); err != nil {
			return err
		}
		off = next
	}
	return nil
}

// NewArena returns a decoding arena for DecodeJSON.
func NewArena() *Arena { return &Arena{} }
