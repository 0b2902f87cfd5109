package input

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/filter"
)

// The README's input table documents every key with the code's description
// and default.
func TestREADMEDocumentsEveryInputOption(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range Options {
		def := "none"
		if o.Default != "" {
			def = "`" + o.Default + "`"
		}
		row := "| `" + o.Key + "` | " + o.Description + " | " + def + " |"
		if !strings.Contains(string(b), row) {
			t.Errorf("README lacks the row:\n%s", row)
		}
	}
}

// The batch sizes stay in step with the opsworks filter's emitter: the
// push-down's default batch fits twice in the emitter's default limit,
// the all-events batch fits in buffer_size's default (a collect can take
// a whole one), and the README gives the emitter limit that the
// all-events batch needs (two batches) wherever it names it.
func TestBatchSizesInStepWithTheEmitter(t *testing.T) {
	size := func(s string) int {
		n, err := config.ParseSize(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	def := func(opts []config.Option, key string) string {
		for _, o := range opts {
			if o.Key == key {
				return o.Default
			}
		}
		t.Fatalf("no option %s", key)
		return ""
	}
	emitter := size(def(filter.Options, "emitter_mem_buf_limit"))
	if b := size(DefaultBatchSize); 2*b > emitter {
		t.Errorf("batch_size %s: more than half the emitter's default limit (%d bytes)", DefaultBatchSize, emitter)
	}
	all := size(AllEventsBatchSize)
	if all > size(def(Options, "buffer_size")) {
		t.Errorf("all-events batch %s is larger than buffer_size's default", AllEventsBatchSize)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("`%dM`", 2*all/1e6)
	if n := strings.Count(string(readme), want+" for the "+AllEventsBatchSize+" default") + strings.Count(string(readme), "needs "+want); n != 2 {
		t.Errorf("README names the emitter limit for the %s all-events batch (%s) %d times, want 2", AllEventsBatchSize, want, n)
	}
}
