package filter

import (
	"os"
	"strings"
	"testing"
)

// The README's configuration table documents every key with the description
// and default the code uses (the plugin's config map is generated from the
// same Options).
func TestREADMEDocumentsEveryOption(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, o := range Options {
		def := "none"
		if o.Default != "" {
			def = "`" + o.Default + "`"
		}
		row := "| `" + o.Key + "` | " + o.Description + " | " + def + " |"
		if !strings.Contains(readme, row) {
			t.Errorf("README lacks the row:\n%s", row)
		}
	}
}
