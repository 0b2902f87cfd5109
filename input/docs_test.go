package input

import (
	"os"
	"strings"
	"testing"
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
