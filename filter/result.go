package filter

// result.go holds what filtering a chunk produces: Result, its Emissions
// per tag and their Pieces.

// Emission is a run of encoded records for one tag.
type Emission struct {
	Tag     string
	Records []byte
	Count   int
	ends    []int // end offset of each record in Records
}

// add appends one encoded record.
func (e *Emission) add(rec []byte) {
	e.Records = append(e.Records, rec...)
	e.ends = append(e.ends, len(e.Records))
	e.Count++
}

// Piece is a run of whole records of an Emission.
type Piece struct {
	Records []byte
	Count   int
}

// Pieces splits Records at record boundaries into runs of at most max bytes
// (a single larger record is a run of its own). Fluent Bit's emitter refuses
// a whole call when its queue is full, so handing it small runs lets it take
// what fits instead of nothing.
func (e *Emission) Pieces(max int) []Piece {
	var out []Piece
	start, prev, n := 0, 0, 0
	for _, end := range e.ends {
		if end-start > max && prev > start {
			out = append(out, Piece{e.Records[start:prev], n})
			start, n = prev, 0
		}
		prev = end
		n++
	}
	if prev > start {
		out = append(out, Piece{e.Records[start:prev], n})
	}
	return out
}

// Result is what filtering one chunk produced. Buffers are valid until the
// next call that reuses the Result.
type Result struct {
	Modified bool       // false: the chunk goes on unchanged (FLB_FILTER_NOTOUCH)
	Keep     []byte     // records that stay in the incoming stream
	KeepN    int        // how many
	Emits    []Emission // records re-emitted under other tags
}

func (r *Result) reset() {
	r.Modified = false
	r.Keep = r.Keep[:0]
	r.KeepN = 0
	for i := range r.Emits {
		r.Emits[i].Records = r.Emits[i].Records[:0]
		r.Emits[i].ends = r.Emits[i].ends[:0]
		r.Emits[i].Count = 0
	}
}

// EmitCount is the number of emitted records over all tags.
func (r *Result) EmitCount() int {
	n := 0
	for _, e := range r.Emits {
		n += e.Count
	}
	return n
}

// emitBuf returns the buffer for tag, creating it on first use.
func (r *Result) emitBuf(tag string) *Emission {
	for i := range r.Emits {
		if r.Emits[i].Tag == tag {
			return &r.Emits[i]
		}
	}
	r.Emits = append(r.Emits, Emission{Tag: tag})
	return &r.Emits[len(r.Emits)-1]
}
