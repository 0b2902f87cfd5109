package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/input"
	"github.com/opsworks-trail/opsworks-trail/integrity"
)

// repeatable is a flag that may be given several times.
type repeatable []string

func (r *repeatable) String() string     { return strings.Join(*r, ",") }
func (r *repeatable) Set(v string) error { *r = append(*r, v); return nil }

// runVerify is `opsworks-trail verify [flags] SOURCE`: CloudTrail log file
// integrity validation of an archive (s3://bucket/prefix) or a local copy,
// as `aws cloudtrail validate-logs` does, plus log files no digest names,
// and copies without S3 metadata (see package integrity).
func runVerify(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("opsworks-trail verify", flag.ContinueOnError)
	fl.SetOutput(stderr)
	since := fl.String("since", "", "verify log files delivered at or after this time (RFC 3339 or YYYY-MM-DD)")
	until := fl.String("until", "", "verify log files delivered before this time (RFC 3339 or YYYY-MM-DD); default now. Digests are read one hour past it")
	var keyFiles repeatable
	fl.Var(&keyFiles, "public-keys", "offline public keys: the JSON `aws cloudtrail list-public-keys` prints (repeatable: one file per region, or merged). Default: CloudTrail ListPublicKeys, per region")
	verbose := fl.Bool("v", false, "print every file's verdict, not only problems")
	workers := fl.Int("workers", 8, "objects read in parallel")
	bar := fl.String("progress", "auto", "progress line on stderr: auto (when stderr is a terminal), on, off")
	inOpts := newKeyValues(input.Options)
	fl.Var(inOpts, "input", "cloudtrail_s3 option key=value for the listing and AWS access (repeatable): region, profile, role_arn, endpoint, force_path_style, accounts, regions, org_id, discover_orgs")
	fl.Usage = func() {
		fmt.Fprintf(fl.Output(), "usage: opsworks-trail verify [flags] SOURCE\n\n"+
			"Validates CloudTrail log file integrity: digest signatures and chain, the SHA-256 of\n"+
			"every log file, and log files that no digest names. SOURCE is s3://bucket[/prefix] or a\n"+
			"local copy. One JSON object per line on stdout ({\"status\",\"key\",\"detail\",…}; problems\n"+
			"only unless -v), a summary on stderr. Exit 0: nothing tampered with; 2: tampering found;\n"+
			"1: usage, access or read failures left the verification incomplete.\n\n")
		fl.PrintDefaults()
	}
	if code, ok := parseFlags(fl, args); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "opsworks-trail verify: "+format+"\n", a...)
		return exitFailure
	}
	if fl.NArg() != 1 {
		fl.Usage()
		return exitFailure
	}
	if *workers < 1 || *workers > 256 {
		return fail("-workers: must be between 1 and 256, got %d", *workers)
	}
	if *bar != "auto" && *bar != "on" && *bar != "off" {
		return fail("-progress: want auto, on or off, got %q", *bar)
	}
	src := fl.Arg(0)
	c := &cli{inputOpts: inOpts.m, since: *since, until: *until}
	cfg, err := c.listConfig(src)
	if err != nil {
		return fail("%v", err)
	}
	keys, err := integrity.LoadPublicKeysFiles(keyFiles)
	if err != nil {
		return fail("-public-keys: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	v := &verifyRun{out: json.NewEncoder(stdout), verbose: *verbose, counts: map[string]int{}}
	opts := cfg.ListOptions()
	opts.IncludeDigest = true // the checker reads each week's digests; the listing's only show which weeks exist
	if opts.End.IsZero() {
		opts.End = time.Now().UTC()
	}
	co := integrity.CheckerOptions{Keys: keys, Workers: *workers, MaxRetries: cfg.MaxRetries, RefuseRevisit: true,
		Backoff: func(attempt int) time.Duration { return cloudtrail.Backoff(time.Second, 30*time.Second, attempt) },
		Report:  v.report, Incomplete: v.incomplete}
	var newLister func(cloudtrail.ListOptions) (cloudtrail.Lister, error)
	if cfg.Bucket != "" {
		client, err := cloudtrail.NewS3Client(ctx, cfg.S3ClientOptions())
		if err != nil {
			return fail("%v", err)
		}
		newLister = func(o cloudtrail.ListOptions) (cloudtrail.Lister, error) {
			return cloudtrail.NewS3Lister(client, cfg.Bucket, o)
		}
		// The input's reader: api_timeout until the headers, stall_timeout
		// on the body, the size limit and its errors.
		r := cloudtrail.NewObjectReader(cloudtrail.ReadOptions{MaxObjectSize: int64(cfg.MaxObjectSize),
			APITimeout: cfg.APITimeout, StallTimeout: cfg.StallTimeout})
		co.ReadDigest = func(ctx context.Context, key string) ([]byte, string, error) {
			data, meta, err := r.Content(ctx, client, cfg.Bucket, key)
			return data, meta["signature"], err // digests carry x-amz-meta-signature
		}
		v.read = func(ctx context.Context, key string) ([]byte, error) {
			data, _, err := r.Content(ctx, client, cfg.Bucket, key)
			return data, err
		}
		co.Bucket = cfg.Bucket
	} else {
		fsys := os.DirFS(cfg.Path)
		newLister = func(o cloudtrail.ListOptions) (cloudtrail.Lister, error) { return cloudtrail.NewDirLister(fsys, o) }
		r := cloudtrail.NewObjectReader(cloudtrail.ReadOptions{MaxObjectSize: int64(cfg.MaxObjectSize)})
		co.ReadDigest = func(_ context.Context, key string) ([]byte, string, error) {
			data, err := r.FileContent(fsys, key)
			return data, "", err // a copy has no metadata: signatures come from the successors
		}
		v.read = func(_ context.Context, key string) ([]byte, error) { return r.FileContent(fsys, key) }
	}
	if len(keyFiles) == 0 {
		s3opts := cfg.S3ClientOptions()
		co.Fetcher = &integrity.KeyFetcher{Keys: keys, List: func(ctx context.Context, region string, start, end time.Time) ([]cloudtrail.PublicKey, error) {
			return cloudtrail.ListPublicKeys(ctx, s3opts, region, start, end)
		}}
	}
	co.List, co.NewLister = opts, newLister
	v.check = integrity.NewChecker(co)
	opts.Skipped = func(p, reason string) {
		v.check.Skipped(p)
	}
	lister, err := newLister(opts)
	if err != nil {
		return fail("%v", err)
	}
	p := newProgress(stderr, *bar, src)
	started := time.Now()
	if err := v.readAll(ctx, lister, *workers, func() { v.progress(p) }); err != nil {
		return fail("%v", err)
	}
	v.summary(stderr, src, time.Since(started), p.on)
	switch {
	case v.tampered > 0:
		return exitBadInput
	case v.readErrors > 0 || v.unlayout > 0 || v.incompletes > 0:
		return exitFailure
	}
	return exitOK
}

// verifyRun is one verification: what was read, and the verdicts.
type verifyRun struct {
	read    func(ctx context.Context, key string) ([]byte, error) // a log file, uncompressed
	check   *integrity.Checker
	out     *json.Encoder
	verbose bool

	mu                             sync.Mutex
	listed, done, logs, digests    int
	readErrors, unlayout, tampered int
	incompletes                    int
	counts                         map[string]int
	firstErrors                    []string
}

// job is a log file to read and judge.
type job struct {
	obj   cloudtrail.Object
	judge integrity.Judge
}

// readAll lists the window and judges it (integrity.Checker: week by week,
// each week's digests first); log files are read with n workers, hashed
// (SHA-256 of the uncompressed content) and dropped.
func (v *verifyRun) readAll(ctx context.Context, lister cloudtrail.Lister, n int, tick func()) error {
	jobs := make(chan job, 4*n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				v.readOne(ctx, j)
				tick()
			}
		}()
	}
	err := lister.List(ctx, func(o cloudtrail.Object) error {
		if o.Key.Kind == cloudtrail.KindInsight {
			return nil // Insights files are not in digests
		}
		if o.Key.Account == "" && !cloudtrail.IsDigestName(o.Key.Path) {
			v.mu.Lock() // outside the CloudTrail layout: no digest can name it
			v.unlayout++
			v.note(o.Key.Path + ": not in the CloudTrail key layout, cannot be verified")
			v.mu.Unlock()
			return nil
		}
		judge, read, err := v.check.Listed(ctx, o)
		if err != nil || !read {
			return err
		}
		v.mu.Lock()
		v.listed++
		v.mu.Unlock()
		select {
		case jobs <- job{o, judge}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(jobs)
	wg.Wait()
	if err == nil {
		err = v.check.EndPass(ctx)
	}
	return err
}

func (v *verifyRun) readOne(ctx context.Context, j job) {
	data, err := v.read(ctx, j.obj.Key.Path)
	var sum [32]byte
	if err == nil {
		sum = sha256.Sum256(data) // outside the lock: the workers hash in parallel
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.done++
	if err != nil {
		v.readErrors++
		v.note(fmt.Sprintf("%s: %v", j.obj.Key.Path, err))
		return
	}
	v.logs++
	v.emit(j.judge(sum))
}

// report hears the checker's findings about digests and missing files.
func (v *verifyRun) report(_ context.Context, _ time.Time, fs []integrity.Finding) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, f := range fs {
		if k, ok := cloudtrail.ParseKey(f.Key); ok && k.Kind == cloudtrail.KindDigest && f.Status != integrity.StatusDigestMissing && f.Status != integrity.StatusChainGap {
			v.digests++
		}
		v.emit(f)
	}
	return nil
}

// incomplete hears of what could not be checked. Public keys that cannot
// be fetched end the run: nothing could be verified.
func (v *verifyRun) incomplete(reason, what, detail string) error {
	if reason == "public keys" {
		return fmt.Errorf("%s (or give them with -public-keys)", detail)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.incompletes++
	v.note(what + ": " + detail)
	return nil
}

// note keeps the first problems for the summary. The caller holds v.mu.
func (v *verifyRun) note(msg string) {
	if len(v.firstErrors) < 20 {
		v.firstErrors = append(v.firstErrors, msg)
	}
}

func (v *verifyRun) emit(f integrity.Finding) {
	v.counts[f.Status]++
	if integrity.Tampered(f.Status) {
		v.tampered++
	}
	if f.Status != integrity.StatusValid || v.verbose {
		_ = v.out.Encode(f)
	}
}

func (v *verifyRun) progress(p *progress) {
	if !p.on {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	p.draw(fmt.Sprintf("%s: %d/%d files read (%d log files, %d digests)", p.src, v.done, v.listed, v.logs, v.digests))
}

func (v *verifyRun) summary(w io.Writer, src string, took time.Duration, tty bool) {
	if tty {
		fmt.Fprint(w, "\r\033[K")
	}
	var parts []string
	for _, s := range []string{integrity.StatusValid, integrity.StatusLogMissing, integrity.StatusLogModified,
		integrity.StatusLogUnreferenced, integrity.StatusLogUnverified, integrity.StatusDigestMissing,
		integrity.StatusDigestInvalid, integrity.StatusDigestUnsigned, integrity.StatusChainGap} {
		if n := v.counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	verdict := "nothing tampered with"
	if v.tampered > 0 {
		verdict = fmt.Sprintf("TAMPERING: %d findings", v.tampered)
	}
	fmt.Fprintf(w, "opsworks-trail verify: %s: %d log files and %d digests in %s; %s; %s\n", src, v.logs, v.digests,
		took.Round(time.Millisecond), strings.Join(parts, ", "), verdict)
	if n := v.readErrors + v.unlayout + v.incompletes; n > 0 {
		fmt.Fprintf(w, "opsworks-trail verify: %d files could not be verified (the verification is incomplete):\n  %s\n", n, strings.Join(v.firstErrors, "\n  "))
	}
}
