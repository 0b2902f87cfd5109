// Command testsummary runs `go test -json …` and prints what a plain
// `go test` prints (each package's result line, and the whole output of
// every failing test), followed by what a green run does not show: which
// tests were skipped and why, grouped by reason, and a closing count.
//
//	go run ./test/testsummary [-json FILE] -- go test -json ./...
//
// The skip summary is the point: a suite whose MinIO, Fluent Bit or valgrind
// tests skipped is green but did not cover them, and the last lines of
// `make test` say so. With -json the raw event stream is also written to
// FILE, for looking into a failure afterwards. The exit status is the test
// command's (1 if it could not be started).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
)

func main() {
	jsonOut := flag.String("json", "", "also write the raw `go test -json` stream to this file")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: testsummary [-json FILE] -- go test -json [packages]")
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
	var in io.Reader = stdout
	if *jsonOut != "" {
		f, err := os.Create(*jsonOut)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			os.Exit(1)
		}
		defer f.Close()
		in = io.TeeReader(stdout, f)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: starting %s: %v\n", args[0], err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	s := newSummary(out)
	// Flushed per event line so that progress shows while a long suite runs.
	readErr := s.read(in, out.Flush)
	waitErr := cmd.Wait()
	s.finish()
	out.Flush()
	if readErr != nil {
		fmt.Fprintln(os.Stderr, "testsummary: reading the test output:", readErr)
	}
	if waitErr != nil {
		if ee, ok := waitErr.(*exec.ExitError); ok && ee.Exited() {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "testsummary:", waitErr)
		os.Exit(1)
	}
	if readErr != nil || s.failed > 0 {
		os.Exit(1)
	}
}
