package input

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/integrity"
)

// Record fields of integrity validation (validate_integrity).
const (
	// FieldIntegrity is on every event record: its file's verdict (valid,
	// log_modified, log_unreferenced, log_unverified).
	FieldIntegrity = "s3_integrity"
	// Integrity records: one per problem, with FieldIntegrityStatus
	// (record.FieldIntegrityStatus) and these.
	FieldDetail      = "detail"
	FieldDigestKey   = "digest_key"
	FieldDelivered   = "delivered"    // a log file's delivery time (RFC 3339)
	FieldPeriodStart = "period_start" // chain_gap: the period without digests
	FieldPeriodEnd   = "period_end"
)

// integrityOptions are what integrity validation needs from the polling
// source's configuration.
type integrityOptions struct {
	// list is the input's selection; the pre-pass narrows it to one
	// account's digests.
	list      cloudtrail.ListOptions
	newLister func(cloudtrail.ListOptions) (cloudtrail.Lister, error)
	// read reads a digest whole and uncompressed, with its signature
	// (x-amz-meta-signature; "" for a local copy).
	read   func(ctx context.Context, key string) (data []byte, signature string, err error)
	bucket string // "" in local mode
	keys   integrity.PublicKeys
	// fetcher gets the keys from ListPublicKeys; nil with public_keys_file.
	fetcher *integrity.KeyFetcher
	// logStart is where the listing starts a log stream (the checkpoint's
	// resume point): digests are read from there, and files a digest
	// names before it are not missing.
	logStart   func(cloudtrail.Stream) time.Time
	workers    int
	maxRetries int
	delay      time.Duration // integrity_delay (follow mode)
}

// integrityCheck validates the archive while the polling source reads it.
// The listing goes through the archive account by account (both listers
// list an account's log files and digests before the next account), so
// when it reaches an account, the account's digests are read and judged
// first (the pre-pass), and each log file is then judged as a worker reads
// it: its events carry the verdict, and its problems become integrity
// records. When the listing leaves the account, the files its digests name
// and that were not listed are log_missing. Memory: one account's digest
// index at a time (about 200 bytes per log file its digests name).
type integrityCheck struct {
	o   integrityOptions
	env sourceEnv
	// putFindings queues integrity records in listing order.
	putFindings func(ctx context.Context, t time.Time, fs []integrity.Finding) error

	cur *accountCheck
	// reported are the findings of the pre-pass and the account's end
	// already queued: a follow pass judges the same recent digests again.
	reported map[string]time.Time
}

type accountCheck struct {
	org, account string
	idx          *integrity.Index
	last         time.Time // the newest delivery time listed, for the record of log_missing
}

func newIntegrityCheck(o integrityOptions, env sourceEnv, putFindings func(context.Context, time.Time, []integrity.Finding) error) *integrityCheck {
	return &integrityCheck{o: o, env: env, putFindings: putFindings, reported: map[string]time.Time{}}
}

// verdict judges one log file from its SHA-256.
type verdict func(sum [32]byte) integrity.Finding

// listed sees every object the listing yields, before the checkpoint. It
// returns whether the object is to be read (digests are not: the pre-pass
// reads them) and, for a log file, how to judge it.
func (c *integrityCheck) listed(ctx context.Context, o cloudtrail.Object) (verdict, bool, error) {
	k := o.Key
	switch {
	case k.Kind == cloudtrail.KindInsight:
		return nil, true, nil // Insights files are in no digest
	case k.Account == "" && uncheckedDigest(c.env, k.Path):
		return nil, false, nil
	case k.Account == "":
		return func([32]byte) integrity.Finding {
			return integrity.Finding{Status: integrity.StatusLogUnverified, Key: k.Path,
				Detail: "not in the CloudTrail key layout (AWSLogs/…/CloudTrail/REGION/YYYY/MM/DD/…): no digest can name it"}
		}, true, nil
	}
	if c.cur == nil || c.cur.org != k.OrgID || c.cur.account != k.Account {
		if err := c.endAccount(ctx); err != nil {
			return nil, false, err
		}
		if err := c.startAccount(ctx, k.OrgID, k.Account); err != nil {
			return nil, false, err
		}
	}
	if k.Time.After(c.cur.last) {
		c.cur.last = k.Time
	}
	if k.Kind == cloudtrail.KindDigest {
		return nil, false, nil
	}
	idx := c.cur.idx
	idx.Present(k.Path)
	return func(sum [32]byte) integrity.Finding {
		f, err := idx.Judge(integrity.LogFile{Bucket: c.o.bucket, Key: k.Path, SHA256: sum})
		if err != nil { // not reached: the key parsed as a log file's
			return integrity.Finding{Status: integrity.StatusLogUnverified, Key: k.Path, Detail: err.Error()}
		}
		return f
	}, true, nil
}

// uncheckedDigest reports a digest outside the CloudTrail layout — a
// backfill digest (…_backfill.json.gz) or one moved out of its folder —
// which is not checked yet: the validation is incomplete, and says so. It
// reports whether p is such a digest.
func uncheckedDigest(env sourceEnv, p string) bool {
	if !strings.Contains(path.Base(p), "_CloudTrail-Digest_") {
		return false
	}
	env.st.integrityIncomplete.Add(1)
	env.st.failure("integrity: digest outside the layout", p)
	env.warn.Warn("integrity-layout", fmt.Sprintf("integrity: %s: a digest outside the CloudTrail layout (backfill digests are not checked yet); the files it names are judged without it", p))
	return true
}

// now is the listing's clock (in follow mode, integrity_delay behind).
func (c *integrityCheck) now() time.Time {
	if c.o.list.Now != nil {
		return c.o.list.Now()
	}
	return time.Now()
}

// endPass ends the account the listing is in (the pass is over).
func (c *integrityCheck) endPass(ctx context.Context) error {
	err := c.endAccount(ctx)
	// Forget what a later pass cannot judge again: its files are behind
	// every stream's floor by more than a day.
	for k, t := range c.reported {
		if c.now().Sub(t) > 48*time.Hour {
			delete(c.reported, k)
		}
	}
	return err
}

// abandon drops the account the listing was in when the listing failed:
// the next pass (or run) judges it again.
func (c *integrityCheck) abandon() { c.cur = nil }

func (c *integrityCheck) endAccount(ctx context.Context) error {
	a := c.cur
	if a == nil {
		return nil
	}
	c.cur = nil
	var out []integrity.Finding
	a.idx.Missing(func(f integrity.Finding) { out = c.keep(out, f) })
	return c.put(ctx, a.last, out)
}

// keep appends f to out unless it was queued before (or is valid: a
// digest's verdict is only worth a record when it is a problem).
func (c *integrityCheck) keep(out []integrity.Finding, f integrity.Finding) []integrity.Finding {
	c.env.st.integrity(f.Status)
	if f.Status == integrity.StatusValid {
		return out
	}
	id := f.Status + "\x00" + f.Key
	if _, seen := c.reported[id]; seen {
		return out
	}
	c.reported[id] = findingTime(f, c.now())
	return append(out, f)
}

func (c *integrityCheck) put(ctx context.Context, t time.Time, fs []integrity.Finding) error {
	if len(fs) == 0 {
		return nil
	}
	return c.putFindings(ctx, t, fs)
}

// startAccount is the pre-pass: it lists and reads the account's digests
// (from each stream's resume point to an hour past the window), gets the
// public keys they need, seals them and queues their problems.
func (c *integrityCheck) startAccount(ctx context.Context, org, account string) error {
	opts := c.o.list
	opts.DigestsOnly, opts.IncludeDigest, opts.IncludeInsight = true, false, false
	opts.OrgID, opts.DiscoverOrgs, opts.Accounts = org, false, []string{account}
	opts.Skipped, opts.StartAfter = nil, nil
	logEnd := opts.End
	if logEnd.IsZero() {
		logEnd = c.now()
	}
	opts.End = logEnd.Add(integrity.DigestLag)
	opts.StreamStart = func(s cloudtrail.Stream) time.Time {
		s.Kind = cloudtrail.KindLog
		return c.o.logStart(s)
	}
	idx := integrity.NewIndex(integrity.Options{Keys: c.o.keys, Start: c.o.list.Start, End: logEnd,
		StreamStart: func(org, account, region string) time.Time {
			return c.o.logStart(cloudtrail.Stream{OrgID: org, Account: account, Region: region, Kind: cloudtrail.KindLog})
		}})
	c.cur = &accountCheck{org: org, account: account, idx: idx}
	where := account
	if org != "" {
		where = org + "/" + account
	}
	digests, err := c.readDigests(ctx, opts, org)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Without its digests, the account's files cannot be verified:
		// they are log_unverified, and the run is incomplete.
		c.env.logf(LogError, "integrity: listing the digests of account %s failed, its log files are not verified: %v", where, err)
		c.env.st.failure("integrity: digests not listed", "account "+where)
		c.env.st.integrityIncomplete.Add(1)
		digests = nil
	}
	if c.o.fetcher != nil && len(digests) > 0 {
		for _, d := range digests {
			if k, ok := cloudtrail.ParseKey(d.Key); ok {
				c.o.fetcher.Note(k.Region, k.Time)
			}
		}
		if err := c.fetchKeys(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// Judging the digests without their keys would call every one
			// invalid: tampering that did not happen. They are left out
			// instead, and the run is incomplete.
			c.env.logf(LogError, "integrity: %v (or set public_keys_file): the %d digests of account %s are not checked, its log files are not verified", err, len(digests), where)
			c.env.st.failure("integrity: public keys", "account "+where)
			c.env.st.integrityIncomplete.Add(1)
			for _, d := range digests {
				idx.AddUnreadable(d.Key)
			}
			digests = nil
		}
	}
	for _, d := range digests {
		if err := idx.AddDigest(d); err != nil {
			return err // not reached: the lister only yields keys in the layout
		}
	}
	var out []integrity.Finding
	idx.Seal(func(f integrity.Finding) { out = c.keep(out, f) })
	start := c.o.list.Start
	if len(digests) > 0 {
		if k, ok := cloudtrail.ParseKey(digests[0].Key); ok {
			start = k.Time
		}
	}
	return c.put(ctx, start, out)
}

// readDigests lists one account's digests and reads them with the
// input's number of workers. A digest that cannot be read is logged and
// left out: its log files are log_unverified, and its successor does not
// call it missing.
func (c *integrityCheck) readDigests(ctx context.Context, opts cloudtrail.ListOptions, org string) ([]integrity.DigestFile, error) {
	lister, err := c.o.newLister(opts)
	if err != nil {
		return nil, err
	}
	var (
		mu   sync.Mutex
		out  []integrity.DigestFile
		wg   sync.WaitGroup
		keys = make(chan string)
	)
	for range max(c.o.workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range keys {
				data, sig, err := c.readDigest(ctx, key)
				mu.Lock()
				if err == nil {
					out = append(out, integrity.DigestFile{Bucket: c.o.bucket, Key: key, Data: data, Signature: sig})
				} else if ctx.Err() == nil {
					c.env.st.integrityIncomplete.Add(1)
					c.env.st.failure("integrity: digest unreadable", key)
					c.env.warn.Warn("integrity", fmt.Sprintf("integrity: %v: the log files this digest names are not verified", err))
					c.cur.idx.AddUnreadable(key)
				}
				mu.Unlock()
			}
		}()
	}
	err = lister.List(ctx, func(o cloudtrail.Object) error {
		if o.Key.OrgID != org { // a local tree may hold the account in both layouts
			return nil
		}
		if err := c.env.gate.wait(ctx); err != nil {
			return err
		}
		select {
		case keys <- o.Key.Path:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(keys)
	wg.Wait()
	return out, err
}

// readDigest reads one digest, again after retryable errors.
func (c *integrityCheck) readDigest(ctx context.Context, key string) ([]byte, string, error) {
	for attempt := 0; ; attempt++ {
		data, sig, err := c.o.read(ctx, key)
		if err == nil || !cloudtrail.Retryable(err) || attempt >= c.o.maxRetries || !sleep(ctx, c.env.backoff(attempt)) {
			return data, sig, err
		}
	}
}

// fetchKeys gets the public keys, again after retryable errors.
func (c *integrityCheck) fetchKeys(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := c.o.fetcher.Fetch(ctx)
		if err == nil || !cloudtrail.Retryable(err) || attempt >= c.o.maxRetries || !sleep(ctx, c.env.backoff(attempt)) {
			return err
		}
	}
}

// findingTime is when a finding happened: the file's delivery, the start
// of a gap, the delivery of a digest (from its key), else def.
func findingTime(f integrity.Finding, def time.Time) time.Time {
	switch {
	case f.Delivered != nil:
		return *f.Delivered
	case f.Start != nil:
		return *f.Start
	}
	if k, ok := cloudtrail.ParseKey(f.Key); ok && !k.Time.IsZero() {
		return k.Time
	}
	return def
}
