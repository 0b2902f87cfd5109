package main

import (
	"os"
	"testing"
)

// config_map.h is generated from filter.Options; it must be regenerated
// (go generate ./plugin/opsworks) whenever an option changes.
func TestConfigMapHeaderIsCurrent(t *testing.T) {
	have, err := os.ReadFile("../config_map.h")
	if err != nil {
		t.Fatal(err)
	}
	if string(have) != string(Render()) {
		t.Fatal("plugin/opsworks/config_map.h is stale: run `make generate`")
	}
}
