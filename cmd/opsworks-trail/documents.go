package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// maxDocument bounds one JSON document (a CloudTrail log file is a few MB;
// the bound is against a file that is not JSON at all).
const maxDocument = 512 << 20

// docScanner splits a stream into top-level JSON documents, one at a time,
// so that memory is bounded by the largest document, not the input: NDJSON
// (a document per line), documents in a row (`cat a.json b.json`, several
// gzip members, pretty-printed or not), or a single document. It tracks
// strings and nesting only; the filter parses each document and reports
// what is wrong with it.
//
// A document that never closes (a truncated NDJSON line) would swallow the
// rest of the input, so a '{' at the start of a line while a document is
// open ends that document there: pretty printers indent nested values, so
// a '{' in the first column starts a new document. Anything that is not an
// object or array (text, a bare number) is a document up to the end of its
// line.
type docScanner struct {
	r      *bufio.Reader
	line   int // 1-based line of the next byte
	offset int64
	doc    []byte
	pend   []byte // a '{' read ahead (see above)
}

func newDocScanner(r io.Reader) (*docScanner, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br) // multistream: concatenated members are one stream
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	return &docScanner{r: br, line: 1}, nil
}

// next returns the next document (valid until the following call), the
// line it starts on and its byte offset in the (uncompressed) input, or
// io.EOF.
func (s *docScanner) next() (doc []byte, line int, offset int64, err error) {
	s.doc = s.doc[:0]
	depth, inString, escaped, started, scalar := 0, false, false, false, false
	atLineStart := s.offset == 0 || len(s.pend) > 0
	if len(s.pend) > 0 {
		s.doc = append(s.doc, s.pend...)
		s.pend = s.pend[:0]
		depth, started = 1, true
		line, offset = s.line, s.offset-1
	}
	for {
		b, rerr := s.r.ReadByte()
		if rerr == io.EOF {
			if started {
				return s.doc, line, offset, nil
			}
			return nil, 0, 0, io.EOF
		}
		if rerr != nil {
			return nil, 0, 0, fmt.Errorf("byte %d: %w", s.offset, rerr)
		}
		s.offset++
		if !started {
			switch b {
			case ' ', '\t', '\r':
				continue
			case '\n':
				s.line++
				atLineStart = true
				continue
			}
			started, line, offset = true, s.line, s.offset-1
			scalar = b != '{' && b != '['
		}
		if b == '\n' {
			s.line++
			if scalar {
				return s.doc, line, offset, nil
			}
		}
		if !scalar && !inString && b == '{' && atLineStart && depth > 0 {
			s.pend = append(s.pend, b) // a truncated document ends here
			return s.doc, line, offset, nil
		}
		atLineStart = b == '\n'
		s.doc = append(s.doc, b)
		if len(s.doc) > maxDocument {
			return nil, 0, 0, fmt.Errorf("line %d (byte %d): a document of more than %d bytes", line, offset, maxDocument)
		}
		switch {
		case scalar:
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
		case b == '}' || b == ']':
			depth--
			if depth == 0 {
				return s.doc, line, offset, nil
			}
		}
	}
}

// stream processes a file or stdin document by document. Documents are
// named name:LINE when the input holds more than one, else name.
func (c *cli) stream(name string, r io.Reader) error {
	s, err := newDocScanner(r)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	// One document of look-ahead tells a single document from several.
	var held []byte
	var heldLine int
	n := 0
	for {
		doc, line, _, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if n > 0 {
			if err := c.document(fmt.Sprintf("%s:%d", name, heldLine), held); err != nil {
				return err
			}
		}
		held, heldLine = append(held[:0], bytes.TrimSpace(doc)...), line
		n++
	}
	switch n {
	case 0:
		return nil
	case 1:
		return c.document(name, held)
	}
	return c.document(fmt.Sprintf("%s:%d", name, heldLine), held)
}
