// Package corpus generates realistic, deterministic CloudTrail data for tests
// and benchmarks of the OpsWorks filter: single events, CloudTrail log files
// in the S3 layout CloudTrail writes, and NDJSON streams.
//
// The same Options (including Seed) always give byte-identical output, so a
// benchmark or a failing test can be reproduced from its seed alone. The data
// is synthetic; it copies no third-party sample.
package corpus

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Options controls what is generated. Zero values take the defaults noted.
type Options struct {
	Seed          int64
	Events        int     // number of events; <= 0 means 1000
	OpsWorksShare float64 // fraction of events from OpsWorks (Stacks and CM), clamped to 0..1
	EventsPerFile int     // most events in one log file; <= 0 means 100
	Start, End    time.Time
	// Start/End bound eventTime; zero End is 2024-06-01T00:00:00Z (fixed, so
	// output never depends on the clock), zero Start is End minus 24 hours.
	Accounts []string // 12-digit account IDs; empty means three example accounts
	Regions  []string // empty means six regions where OpsWorks CM was offered
	OrgID    string   // organization trail: keys become AWSLogs/<OrgID>/<account>/…
}

// File is one CloudTrail log file.
type File struct {
	Key     string // S3 key, AWSLogs/…/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_xxxxxxxxxxxxxxxx.json.gz
	Body    []byte // JSON {"Records":[…]}, uncompressed
	Account string
	Region  string
	Time    time.Time // delivery time, as in the key
}

func (o Options) normalized() Options {
	if o.Events <= 0 {
		o.Events = 1000
	}
	o.OpsWorksShare = math.Min(1, math.Max(0, o.OpsWorksShare))
	if o.EventsPerFile <= 0 {
		o.EventsPerFile = 100
	}
	if o.End.IsZero() {
		o.End = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Start.IsZero() || !o.Start.Before(o.End) {
		o.Start = o.End.Add(-24 * time.Hour)
	}
	if len(o.Accounts) == 0 {
		o.Accounts = defaultAccounts
	}
	if len(o.Regions) == 0 {
		o.Regions = defaultRegions
	}
	return o
}

// event is a generated event with the facts needed to file it.
type event struct {
	account, region string
	time            time.Time
	body            []byte
	opsworks        bool
}

// generator holds the random source and the world state of one run.
type generator struct {
	r rng
	o Options
	w *world
}

// Streams of the PCG generator, so that adding draws in one part (say, file
// name suffixes) never changes another (the events).
const (
	streamEvents = 0x6f70737765767473
	streamFiles  = 0x6f707366696c6573
)

func generate(o Options) []event {
	o = o.normalized()
	g := &generator{r: newRNG(o.Seed, streamEvents), o: o}
	g.w = newWorld(g.r, o.Accounts, o.Regions, o.Start)
	times := g.times()
	mask := g.opsworksMask()
	out := make([]event, len(times))
	for i, t := range times {
		out[i] = g.event(t, mask[i])
	}
	return out
}

// times draws eventTimes uniformly in [Start, End) at one-second resolution,
// in order: a stream read from a trail is roughly chronological, and the
// serverName memory depends on creations coming before later references.
func (g *generator) times() []time.Time {
	span := g.o.End.Sub(g.o.Start) / time.Second
	if span < 1 {
		span = 1
	}
	secs := make([]int64, g.o.Events)
	for i := range secs {
		secs[i] = g.r.Int64N(int64(span))
	}
	slices.Sort(secs)
	out := make([]time.Time, len(secs))
	for i, s := range secs {
		out[i] = g.o.Start.Add(time.Duration(s) * time.Second).UTC()
	}
	return out
}

// opsworksMask marks exactly round(Events × share) events as OpsWorks, at
// random positions: an exact count keeps benchmark inputs comparable across
// seeds.
func (g *generator) opsworksMask() []bool {
	n := g.o.Events
	k := int(math.Round(float64(n) * g.o.OpsWorksShare))
	mask := make([]bool, n)
	for i := 0; i < k; i++ {
		mask[i] = true
	}
	g.r.Shuffle(n, func(i, j int) { mask[i], mask[j] = mask[j], mask[i] })
	return mask
}

// Events returns n compact JSON CloudTrail events in eventTime order.
func Events(o Options) [][]byte {
	evs := generate(o)
	out := make([][]byte, len(evs))
	for i := range evs {
		out[i] = evs[i].body
	}
	return out
}

// WriteNDJSON writes one event per line.
func WriteNDJSON(w io.Writer, o Options) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	for _, ev := range generate(o) {
		bw.Write(ev.body)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// deliveryWindow is how much activity CloudTrail collects into one file per
// account and region before delivering it (about every five minutes).
const deliveryWindow = 5 * time.Minute

// LogFiles groups the events into CloudTrail log files: one stream per
// account and region, cut every delivery window and at EventsPerFile events.
// Files are ordered by delivery time, then key.
func LogFiles(o Options) []File {
	o = o.normalized()
	evs := generate(o)
	type group struct {
		account, region string
		window          time.Time
	}
	byGroup := map[group][]*event{}
	var order []group
	for i := range evs {
		e := &evs[i]
		k := group{e.account, e.region, e.time.Truncate(deliveryWindow)}
		if _, ok := byGroup[k]; !ok {
			order = append(order, k)
		}
		byGroup[k] = append(byGroup[k], e)
	}
	r := newRNG(o.Seed, streamFiles)
	var files []File
	for _, k := range order {
		members := byGroup[k]
		for len(members) > 0 {
			n := min(len(members), o.EventsPerFile)
			// Delivery lags the window by a few minutes, like CloudTrail's.
			at := k.window.Add(deliveryWindow + time.Duration(r.IntN(240))*time.Second).Truncate(time.Minute)
			files = append(files, File{Key: fileKey(o.OrgID, k.account, k.region, at, r.str(mixedAlnum, 16)),
				Body: recordsBody(members[:n]), Account: k.account, Region: k.region, Time: at})
			members = members[n:]
		}
	}
	slices.SortStableFunc(files, func(a, b File) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return files
}

func recordsBody(evs []*event) []byte {
	var b bytes.Buffer
	b.WriteString(`{"Records":[`)
	for i, e := range evs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e.body)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// fileKey is the S3 key CloudTrail uses for a log file.
func fileKey(orgID, account, region string, t time.Time, suffix string) string {
	prefix := "AWSLogs/"
	if orgID != "" {
		prefix += orgID + "/"
	}
	return fmt.Sprintf("%s%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz",
		prefix, account, region, t.Format("2006/01/02"), account, region, t.Format("20060102T1504Z"), suffix)
}

// WriteArchive writes LogFiles under dir, gzip-compressed (keeping the
// .json.gz names) or as plain .json files. files counts those written.
func WriteArchive(dir string, o Options, gz bool) (files int, err error) {
	for _, f := range LogFiles(o) {
		if err := writeLogFile(dir, f, gz); err != nil {
			return files, err
		}
		files++
	}
	return files, nil
}

func writeLogFile(dir string, f File, gz bool) error {
	name, data := f.Key, f.Body
	if !gz {
		name = strings.TrimSuffix(name, ".gz")
	}
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if gz {
		var err error
		if data, err = gzipBytes(f.Body, f.Time); err != nil {
			return err
		}
	}
	return os.WriteFile(path, data, 0o644)
}

// gzipBytes compresses with a fixed header (mod time = delivery time) so
// archives are byte-identical across runs.
func gzipBytes(data []byte, t time.Time) ([]byte, error) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.ModTime = t
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
