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
	"path"
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
	opts.IncludeDigest = true
	opts.Skipped = func(p, reason string) {
		if strings.Contains(path.Base(p), "_CloudTrail-Digest_") {
			v.uncheckedDigest(p) // in S3, a backfill digest's name does not parse
		}
	}
	logEnd := opts.End
	if logEnd.IsZero() {
		logEnd = time.Now().UTC()
	}
	opts.End = logEnd.Add(integrity.DigestLag)
	var lister cloudtrail.Lister
	if cfg.Bucket != "" {
		client, err := cloudtrail.NewS3Client(ctx, cfg.S3ClientOptions())
		if err != nil {
			return fail("%v", err)
		}
		if lister, err = cloudtrail.NewS3Lister(client, cfg.Bucket, opts); err != nil {
			return fail("%v", err)
		}
		// The input's reader: api_timeout until the headers, stall_timeout
		// on the body, the size limit and its errors.
		r := cloudtrail.NewObjectReader(cloudtrail.ReadOptions{MaxObjectSize: int64(cfg.MaxObjectSize),
			APITimeout: cfg.APITimeout, StallTimeout: cfg.StallTimeout})
		v.read = func(ctx context.Context, key string) ([]byte, string, error) {
			data, meta, err := r.Content(ctx, client, cfg.Bucket, key)
			return data, meta["signature"], err // digests carry x-amz-meta-signature
		}
		v.bucket = cfg.Bucket
	} else {
		fsys := os.DirFS(cfg.Path)
		if lister, err = cloudtrail.NewDirLister(fsys, opts); err != nil {
			return fail("%v", err)
		}
		r := cloudtrail.NewObjectReader(cloudtrail.ReadOptions{MaxObjectSize: int64(cfg.MaxObjectSize)})
		v.read = func(_ context.Context, key string) ([]byte, string, error) {
			data, err := r.FileContent(fsys, key)
			return data, "", err // a copy has no metadata, so no signature
		}
	}
	v.ver = integrity.NewVerifier(integrity.Options{Keys: keys, Start: opts.Start, End: logEnd})
	if len(keyFiles) == 0 {
		s3opts := cfg.S3ClientOptions()
		v.keys = &integrity.KeyFetcher{Keys: keys, List: func(ctx context.Context, region string, start, end time.Time) ([]cloudtrail.PublicKey, error) {
			return cloudtrail.ListPublicKeys(ctx, s3opts, region, start, end)
		}}
	}
	p := newProgress(stderr, *bar, src)
	started := time.Now()
	if err := v.readAll(ctx, lister, *workers, logEnd, func() { v.progress(p) }); err != nil {
		return fail("%v", err)
	}
	v.mu.Lock()
	err = v.finishAccount(ctx, nil)
	v.mu.Unlock()
	if err != nil {
		return fail("%v", err)
	}
	v.summary(stderr, src, time.Since(started), p.on)
	switch {
	case v.tampered > 0:
		return exitBadInput
	case v.readErrors > 0 || v.unlayout > 0 || v.skippedDigests > 0:
		return exitFailure
	}
	return exitOK
}

// account is what the listing goes through one after the other: both
// listers list an account's log files and digests (every region) before
// the next account's, so verify judges and forgets an account as soon as
// the listing has passed it.
type account struct{ org, id string }

// finishAccount judges one account (nil: everything left), fetching the
// public keys its digests need first. The caller holds v.mu.
func (v *verifyRun) finishAccount(ctx context.Context, a *account) error {
	if v.keys != nil {
		if err := v.keys.Fetch(ctx); err != nil {
			return fmt.Errorf("%w (or give them with -public-keys)", err)
		}
	}
	if a == nil {
		v.ver.Finish(v.emit)
	} else {
		v.ver.FinishAccount(a.org, a.id, v.emit)
	}
	return nil
}

// verifyRun is one verification: what was read, and the verdicts.
type verifyRun struct {
	read    func(ctx context.Context, key string) (data []byte, signature string, err error)
	bucket  string
	ver     *integrity.Verifier
	out     *json.Encoder
	verbose bool

	mu                             sync.Mutex
	listed, done, logs, digests    int
	readErrors, unlayout, tampered int
	skippedDigests                 int
	counts                         map[string]int
	// keys fetches the public keys the digests read need (nil with
	// -public-keys).
	keys        *integrity.KeyFetcher
	pending     map[account]*sync.WaitGroup // reads in flight, by account
	firstErrors []string
}

// readAll lists the window and reads every object with n workers: log files
// are hashed (SHA-256 of the uncompressed content) and dropped, digests
// kept whole (a few KB each).
func (v *verifyRun) readAll(ctx context.Context, lister cloudtrail.Lister, n int, logEnd time.Time, tick func()) error {
	jobs := make(chan cloudtrail.Object, 4*n)
	var wg sync.WaitGroup
	v.pending = map[account]*sync.WaitGroup{}
	var cur *account
	var finishErr error
	finished := map[account]bool{}
	// passed finishes the account the listing has left, once its reads
	// are done.
	passed := func(a account) {
		v.mu.Lock()
		pw := v.pending[a]
		v.mu.Unlock()
		pw.Wait()
		v.mu.Lock()
		if err := v.finishAccount(ctx, &a); err != nil && finishErr == nil {
			finishErr = err
		}
		delete(v.pending, a)
		v.mu.Unlock()
	}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range jobs {
				v.readOne(ctx, o)
				v.mu.Lock()
				v.pending[account{o.Key.OrgID, o.Key.Account}].Done()
				v.mu.Unlock()
				tick()
			}
		}()
	}
	err := lister.List(ctx, func(o cloudtrail.Object) error {
		if o.Key.Kind == cloudtrail.KindLog && !o.Key.Time.IsZero() && !o.Key.Time.Before(logEnd) {
			return nil // digests only in the extra hour
		}
		if o.Key.Kind == cloudtrail.KindInsight {
			return nil // Insights files are not in digests
		}
		if o.Key.Time.IsZero() && strings.Contains(o.Key.Path, "_CloudTrail-Digest_") {
			v.uncheckedDigest(o.Key.Path)
			return nil
		}
		a := account{o.Key.OrgID, o.Key.Account}
		if cur != nil && *cur != a {
			passed(*cur)
			finished[*cur] = true
		}
		if finished[a] {
			return fmt.Errorf("%s: account %s comes again after the listing had passed it (the tree holds it under two prefixes?): verify each prefix on its own", o.Key.Path, a.id)
		}
		cur = &a
		v.mu.Lock()
		v.listed++
		if v.pending[a] == nil {
			v.pending[a] = &sync.WaitGroup{}
		}
		v.pending[a].Add(1)
		v.mu.Unlock()
		select {
		case jobs <- o:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(jobs)
	wg.Wait()
	if err == nil {
		err = finishErr
	}
	return err
}

// uncheckedDigest counts a digest outside the layout: a backfill digest
// (…_backfill.json.gz) or a digest moved out of its folder.
func (v *verifyRun) uncheckedDigest(p string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.skippedDigests++
	if len(v.firstErrors) < 20 {
		v.firstErrors = append(v.firstErrors, p+": a digest outside the layout (backfill digests are not checked yet)")
	}
}

func (v *verifyRun) readOne(ctx context.Context, o cloudtrail.Object) {
	key := o.Key.Path
	data, sig, err := v.read(ctx, key)
	var sum [32]byte
	if err == nil && o.Key.Kind == cloudtrail.KindLog {
		sum = sha256.Sum256(data) // outside the lock: the workers hash in parallel
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.done++
	if err != nil {
		v.readErrors++
		v.ver.AddUnreadable(key)
		if len(v.firstErrors) < 20 {
			v.firstErrors = append(v.firstErrors, fmt.Sprintf("%s: %v", key, err))
		}
		return
	}
	if o.Key.Time.IsZero() { // outside the CloudTrail layout: no digest can name it
		v.unlayout++
		if len(v.firstErrors) < 20 {
			v.firstErrors = append(v.firstErrors, key+": not in the CloudTrail key layout, cannot be verified")
		}
		return
	}
	if o.Key.Kind == cloudtrail.KindDigest {
		v.digests++
		if v.keys != nil {
			v.keys.Note(o.Key.Region, o.Key.Time)
		}
		err = v.ver.AddDigest(integrity.DigestFile{Bucket: v.bucket, Key: key, Data: data, Signature: sig})
	} else {
		v.logs++
		err = v.ver.AddLog(integrity.LogFile{Bucket: v.bucket, Key: key, SHA256: sum})
	}
	if err != nil {
		v.readErrors++
		v.firstErrors = append(v.firstErrors, err.Error())
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
	if n := v.readErrors + v.unlayout + v.skippedDigests; n > 0 {
		fmt.Fprintf(w, "opsworks-trail verify: %d files could not be verified (the verification is incomplete):\n  %s\n", n, strings.Join(v.firstErrors, "\n  "))
	}
}
