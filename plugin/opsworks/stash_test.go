package main

import (
	"strings"
	"testing"
)

func TestStash(t *testing.T) {
	s := stash{limit: 10}
	if !s.add("a", []byte("1234"), 1) || !s.add("b", []byte("5678"), 2) {
		t.Fatal("records under the limit were refused")
	}
	if s.add("c", []byte("90ab"), 1) {
		t.Fatal("a record over the limit was accepted")
	}
	// The flusher stops at the first refusal and keeps the order.
	var got []string
	refuse := "b"
	appendFn := func(tag string, rec []byte) bool {
		if tag == refuse {
			return false
		}
		got = append(got, tag+":"+string(rec))
		return true
	}
	if n := s.flush(appendFn); n != 1 || strings.Join(got, ",") != "a:1234" {
		t.Fatalf("first flush appended %d records: %v", n, got)
	}
	refuse = ""
	if n := s.flush(appendFn); n != 2 || strings.Join(got, ",") != "a:1234,b:5678" {
		t.Fatalf("second flush appended %d records: %v", n, got)
	}
	if s.bytes != 0 || len(s.items) != 0 {
		t.Fatalf("stash not empty: %d bytes, %d items", s.bytes, len(s.items))
	}
	// A record larger than the limit still goes alone into an empty stash.
	if !s.add("big", make([]byte, 50), 7) || s.add("more", []byte("x"), 1) {
		t.Fatal("an empty stash must take one record of any size, and then nothing more")
	}
	// The stash keeps copies: the caller reuses its buffers.
	buf := []byte("zz")
	s2 := stash{}
	s2.add("t", buf, 1)
	buf[0] = 'X'
	s2.flush(func(_ string, rec []byte) bool { got = append(got, string(rec)); return true })
	if got[len(got)-1] != "zz" {
		t.Fatalf("the stash did not copy: %q", got[len(got)-1])
	}
	if n := s.drop(); n != 7 {
		t.Fatalf("drop counted %d records, want 7", n)
	}
}
