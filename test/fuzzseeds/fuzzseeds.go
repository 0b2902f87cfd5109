// Package fuzzseeds holds the seed documents that the fuzz targets of the
// record codec and of the filter share: the files matching some patterns,
// plus shapes the testdata does not have.
package fuzzseeds

import (
	"os"
	"path/filepath"
)

// Seeds returns the contents of the files matching patterns, then the
// extra documents.
func Seeds(patterns ...string) ([][]byte, error) {
	var out [][]byte
	for _, pattern := range patterns {
		files, err := filepath.Glob(pattern)
		if err != nil {
			return nil, err
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
	}
	for _, s := range extra {
		out = append(out, []byte(s))
	}
	return out, nil
}

// extra are shapes a decoder and the filter meet that testdata lacks.
var extra = []string{
	`{"Records":[{"eventSource":"opsworks-cm.amazonaws.com","eventName":"X","requestParameters":{"engine":"Puppet"}}]}`,
	`{"messageType":"DATA_MESSAGE","logEvents":[{"message":"{\"eventSource\":\"opsworks.amazonaws.com\",\"eventName\":\"A\"}"}]}`,
	`"\ud83d\ude00\u00e9"`, `[1.5e300,-0,18446744073709551616]`,
	`{"detail":{"eventSource":"opsworks.amazonaws.com"}}`,
	`{"detail-type":"AWS API Call via CloudTrail","detail":{"eventSource":"opsworks.amazonaws.com","eventName":"A","userIdentity":{"type":"Root","sessionContext":{}}}}`,
	`{"messageType":"DATA_MESSAGE","logEvents":"x"}`,
	`{"eventType":"AwsCloudTrailInsight","insightDetails":{"eventSource":"opsworks.amazonaws.com"}}`,
	`{"Records":[{"eventSource":"opsworks-cm.amazonaws.com","eventName":"DescribeServers","responseElements":{"servers":[{"serverName":"a","engine":"Chef"},{"serverName":"b"}],"backups":[{"engine":7}]}}]}`,
}
