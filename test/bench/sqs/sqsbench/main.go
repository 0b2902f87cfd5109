// Command sqsbench drives the SQS-mode benchmark (run by ../run.sh):
//
//	sqsbench servers -dir ARCHIVE -data DIR -bucket B -env FILE
//	sqsbench queue   -endpoint URL -name NAME
//	sqsbench consume -queue URL | -bucket B   -out PREFIX [flags]
//	sqsbench verify  -objects N -events E -kept K -env FILE PREFIX...
//
// servers starts MinIO (installed like the tests do), uploads ARCHIVE into
// bucket B, starts local-aws-sqs (test/sqstest), writes endpoints,
// credentials and both server PIDs to FILE as shell assignments and serves
// until SIGINT or SIGTERM. queue creates a standard queue and prints its
// URL.
//
// consume is one cloudtrail_s3 input without Fluent Bit around it, doing
// the same work per object as `opsworks-trail s3://…` (the polling
// benchmark in test/bench/s3): the engine (package input) with the
// default OpsWorks push-down, its records through the opsworks filter core
// (structured records, as the CLI and the plugin pipeline do) and printed
// as NDJSON to PREFIX.out. With -queue it runs in SQS mode and stops once
// the queue is empty (nothing visible, nothing in flight: every message
// deleted, by this process or another) and nothing of its own is in
// progress; with -bucket it polls the bucket in one bounded pass (what the
// CLI does). It writes the key of every GET to PREFIX.keys and its counters
// to PREFIX.stats (JSON). The collect loop is the CLI's: collect, filter,
// commit at once while batches are ready, else sleep -collect-interval
// (20 ms). Fluent Bit's Go proxy collects once a second: -collect-interval
// 1s -collect-every models it (one Collect per tick, whatever is ready).
//
// verify adds up the PREFIX.stats, .keys and .out files of the consumers
// of one run, checks that every object was read and committed and every
// OpsWorks event delivered, counts duplicates, and writes the figures as
// shell assignments to FILE.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/filter"
	"github.com/opsworks-trail/opsworks-trail/input"
	"github.com/opsworks-trail/opsworks-trail/record"
	"github.com/opsworks-trail/opsworks-trail/test/bench/benchutil"
	"github.com/opsworks-trail/opsworks-trail/test/sqstest"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("sqsbench: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: sqsbench servers|queue|consume|verify [flags]")
	}
	var err error
	switch os.Args[1] {
	case "servers":
		err = servers(os.Args[2:])
	case "queue":
		err = createQueue(os.Args[2:])
	case "consume":
		err = consume(os.Args[2:])
	case "verify":
		err = verify(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (servers, queue, consume or verify)", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

// servers: MinIO with the archive, and local-aws-sqs, until a signal.
func servers(args []string) error {
	fs := flag.NewFlagSet("servers", flag.ExitOnError)
	dir := fs.String("dir", "", "archive directory to upload (keys are paths relative to it)")
	data := fs.String("data", "", "MinIO's directory (emptied first)")
	bucket := fs.String("bucket", "cloudtrail-bench", "bucket to create")
	envFile := fs.String("env", "", "file to write the shell assignments to")
	fs.Parse(args)
	if *dir == "" || *data == "" || *envFile == "" {
		return errors.New("servers needs -dir, -data and -env")
	}
	srv, env, err := benchutil.ServeArchive(*data, *dir, *bucket)
	if err != nil {
		return err
	}
	defer srv.Close()
	sq, stop, err := sqstest.StartProcess(log.Printf)
	if err != nil {
		return err
	}
	defer stop()
	log.Printf("local-aws-sqs %s at %s", sqstest.LocalSQSVersion, sq.Endpoint)
	env += fmt.Sprintf("SQS_ENDPOINT=%q\nSQS_REGION=%q\nSQS_PID=%d\nSQS_VERSION=%q\n", sq.Endpoint, sq.Region, sq.Pid(), sqstest.LocalSQSVersion)
	return benchutil.PublishAndWait(*envFile, env)
}

// createQueue makes a standard queue (SQS defaults) and prints its URL.
func createQueue(args []string) error {
	fs := flag.NewFlagSet("queue", flag.ExitOnError)
	endpoint := fs.String("endpoint", "", "SQS endpoint")
	name := fs.String("name", "", "queue name")
	fs.Parse(args)
	if *endpoint == "" || *name == "" {
		return errors.New("queue needs -endpoint and -name")
	}
	c := sqstest.NewClient(*endpoint, sqstest.Region)
	out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(*name)})
	if err != nil {
		return err
	}
	fmt.Println(aws.ToString(out.QueueUrl))
	return nil
}

// countingS3 records the key of every GetObject of a whole object (a read
// attempt; the polling start-up check's ranged GET of one byte is counted
// apart) and counts ListObjectsV2 calls.
type countingS3 struct {
	cloudtrail.S3API
	mu     sync.Mutex
	keys   []string
	lists  int
	ranged int
}

func (c *countingS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	c.mu.Lock()
	c.lists++
	c.mu.Unlock()
	return c.S3API.ListObjectsV2(ctx, in, optFns...)
}

func (c *countingS3) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.mu.Lock()
	if in.Range != nil {
		c.ranged++
	} else {
		c.keys = append(c.keys, aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key))
	}
	c.mu.Unlock()
	return c.S3API.GetObject(ctx, in, optFns...)
}

// HeadObject keeps the polling mode's start-up check what it is with the
// SDK client (it tells a missing kms:Decrypt from a missing s3:GetObject).
func (c *countingS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	h, ok := c.S3API.(interface {
		HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	})
	if !ok {
		return nil, errors.New("no HeadObject")
	}
	return h.HeadObject(ctx, in, optFns...)
}

// countingSQS counts the SQS calls of the engine, and the messages they
// carried.
type countingSQS struct {
	*sqs.Client
	mu    sync.Mutex
	calls sqsCalls
}

type sqsCalls struct {
	Receives         int `json:"receives"`          // ReceiveMessage calls
	ReceivesEmpty    int `json:"receives_empty"`    // … that returned no message
	ReceiveAsked     int `json:"receive_asked"`     // MaxNumberOfMessages, summed
	ReceivedMessages int `json:"received_messages"` // messages they returned
	DeleteBatches    int `json:"delete_batches"`    // DeleteMessageBatch calls
	DeleteEntries    int `json:"delete_entries"`
	Visibility       int `json:"visibility"` // ChangeMessageVisibility(Batch) calls
	Attributes       int `json:"attributes"` // GetQueueAttributes calls of the engine (its start-up check)
}

func (c *countingSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	out, err := c.Client.ReceiveMessage(ctx, in, optFns...)
	c.mu.Lock()
	c.calls.Receives++
	c.calls.ReceiveAsked += int(in.MaxNumberOfMessages)
	if err == nil {
		c.calls.ReceivedMessages += len(out.Messages)
		if len(out.Messages) == 0 {
			c.calls.ReceivesEmpty++
		}
	}
	c.mu.Unlock()
	return out, err
}

func (c *countingSQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	c.mu.Lock()
	c.calls.DeleteBatches++
	c.calls.DeleteEntries += len(in.Entries)
	c.mu.Unlock()
	return c.Client.DeleteMessageBatch(ctx, in, optFns...)
}

func (c *countingSQS) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	c.mu.Lock()
	c.calls.Visibility++
	c.mu.Unlock()
	return c.Client.ChangeMessageVisibility(ctx, in, optFns...)
}

func (c *countingSQS) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	c.mu.Lock()
	c.calls.Visibility++
	c.mu.Unlock()
	return c.Client.ChangeMessageVisibilityBatch(ctx, in, optFns...)
}

func (c *countingSQS) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	c.mu.Lock()
	c.calls.Attributes++
	c.mu.Unlock()
	return c.Client.GetQueueAttributes(ctx, in, optFns...)
}

// consumerStats is PREFIX.stats.
type consumerStats struct {
	Mode             string           `json:"mode"`
	Workers          int              `json:"workers"`
	MaxMessages      int              `json:"max_messages,omitempty"`
	Seconds          float64          `json:"seconds"` // Start to the end of the collect loop
	Gets             int              `json:"gets"`
	Lists            int              `json:"lists"`       // ListObjectsV2 calls
	RangedGets       int              `json:"ranged_gets"` // the polling start-up check
	ObjectsRead      int64            `json:"objects_read"`
	ObjectsCommitted int64            `json:"objects_committed"`
	ObjectsBad       int64            `json:"objects_bad"`
	ObjectsFailed    int64            `json:"objects_failed"`
	Retries          int64            `json:"retries"`
	EventsSeen       int64            `json:"events_seen"`
	EventsKept       int64            `json:"events_kept"`
	Printed          int64            `json:"printed"` // records out of the filter
	BytesRead        int64            `json:"bytes_read"`
	Uncompressed     int64            `json:"bytes_uncompressed"`
	Collects         int64            `json:"collects"` // batches collected
	Failures         map[string]int64 `json:"failures,omitempty"`
	SQS              *input.SQSStats  `json:"sqs,omitempty"`
	SQSCalls         *sqsCalls        `json:"sqs_calls,omitempty"`
	QueueChecks      int              `json:"queue_checks"`
	TimedOut         bool             `json:"timed_out"`
}

func consume(args []string) error {
	fs := flag.NewFlagSet("consume", flag.ExitOnError)
	queueURL := fs.String("queue", "", "SQS mode: the queue URL")
	bucket := fs.String("bucket", "", "polling mode: the bucket (one bounded pass)")
	out := fs.String("out", "", "prefix of the output files: PREFIX.out (NDJSON), PREFIX.keys, PREFIX.stats")
	endpoint := fs.String("endpoint", os.Getenv("MINIO_ENDPOINT"), "S3 endpoint")
	region := fs.String("region", "us-east-1", "region")
	workers := fs.Int("workers", 4, "workers")
	maxMessages := fs.Int("max-messages", 0, "SQS mode: max_messages (0: the input's default)")
	waitTime := fs.String("wait-time", "20s", "SQS mode: wait_time")
	interval := fs.Duration("collect-interval", 20*time.Millisecond, "sleep when no batch is ready")
	every := fs.Bool("collect-every", false, "one Collect per -collect-interval, ready or not (Fluent Bit's Go proxy: 1s)")
	duration := fs.Duration("duration", 0, "stop after this long (0: at the end of the work); rates then come from what was committed")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile")
	var extra settingsFlag = map[string]string{}
	fs.Var(extra, "input", "more cloudtrail_s3 options key=value (repeatable)")
	fs.Parse(args)
	if (*queueURL == "") == (*bucket == "") || *out == "" {
		return errors.New("consume needs -out and exactly one of -queue and -bucket")
	}

	// The filter as the CLI configures it for archive records.
	recordCfg, err := filter.LoadConfig(config.MapGetter{"retag": "off", "warning_interval": "0s"})
	if err != nil {
		return err
	}
	proc := filter.NewProcessor(recordCfg, nil)
	g := config.MapGetter{"region": *region, "endpoint": *endpoint, "force_path_style": "on", "progress_interval": "0",
		"workers": fmt.Sprint(*workers), "event_sources": strings.Join(recordCfg.EventSources, ",")}
	mode := "poll"
	if *queueURL != "" {
		mode = "sqs"
		g["queue_url"] = *queueURL
		if *maxMessages > 0 {
			g["max_messages"] = fmt.Sprint(*maxMessages)
		}
		g["wait_time"] = *waitTime
	} else {
		g["bucket"] = *bucket
	}
	for k, v := range extra {
		g[k] = v
	}
	cfg, err := input.LoadConfig(g)
	if err != nil {
		return err
	}
	ctx := context.Background()
	raw, err := cloudtrail.NewS3Client(ctx, cfg.S3ClientOptions()) // the client the plugin and the CLI build
	if err != nil {
		return err
	}
	s3c := &countingS3{S3API: raw}
	var queues *countingSQS
	deps := input.Deps{S3: s3c, Logf: func(level int, format string, args ...any) {
		if level <= input.LogWarn {
			log.Printf("engine: "+format, args...)
		}
	}}
	if mode == "sqs" {
		client, err := cloudtrail.NewSQSClient(ctx, cfg.SQSClientOptions()) // as NewEngine would
		if err != nil {
			return err
		}
		queues = &countingSQS{Client: client}
		deps.SQS = queues
	}

	outFile, err := os.Create(*out + ".out")
	if err != nil {
		return err
	}
	defer outFile.Close()
	w := bufio.NewWriterSize(outFile, 1<<20)

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	eng, err := input.NewEngine(cfg, deps)
	if err != nil {
		return err
	}
	started := time.Now()
	if err := eng.Start(ctx); err != nil {
		return err
	}
	var (
		res      filter.Result
		line     []byte
		st       = consumerStats{Mode: mode, Workers: cfg.Workers}
		lastPoll time.Time
	)
	if mode == "sqs" {
		st.MaxMessages = cfg.MaxMessages
	}
	emit := func(b *input.Batch) error {
		st.Collects++
		if err := proc.FilterChunk(b.Records, &res); err != nil {
			return err
		}
		chunk := b.Records
		if res.Modified {
			chunk = res.Keep
		}
		err := record.ForEachRecord(chunk, func(_ record.EventTime, body *record.Value) error {
			st.Printed++
			line = append(record.AppendJSON(line[:0], body), '\n')
			_, err := w.Write(line)
			return err
		})
		if err != nil {
			return err
		}
		eng.Commit(b)
		return nil
	}
	// finished: SQS mode ends when the queue is empty and nothing of ours
	// is in progress (a message is deleted only after its objects were
	// committed, so an empty queue means every object is done somewhere).
	finished := func() (bool, error) {
		if mode == "poll" {
			return eng.Done(), nil
		}
		s := eng.Stats()
		if s.SQS.InProgress > 0 || s.Buffered > 0 || time.Since(lastPoll) < 250*time.Millisecond {
			return false, nil
		}
		lastPoll = time.Now()
		st.QueueChecks++
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		visible, inFlight, err := sqstest.Counts(cctx, queues.Client, *queueURL)
		if err != nil {
			return false, err
		}
		return visible == 0 && inFlight == 0, nil
	}
	for {
		if *duration > 0 && time.Since(started) >= *duration {
			break
		}
		if time.Since(started) > *timeout {
			st.TimedOut = true
			break
		}
		if *every {
			if b := eng.Collect(0); b != nil {
				if err := emit(b); err != nil {
					eng.Stop()
					return err
				}
			}
		} else if b := eng.Collect(0); b != nil {
			if err := emit(b); err != nil {
				eng.Stop()
				return err
			}
			continue
		}
		done, err := finished()
		if err != nil {
			eng.Stop()
			return err
		}
		if done {
			break
		}
		time.Sleep(*interval)
	}
	st.Seconds = time.Since(started).Seconds()
	sum := eng.Stop()
	if err := w.Flush(); err != nil {
		return err
	}
	st.ObjectsRead, st.ObjectsCommitted, st.ObjectsBad, st.ObjectsFailed = sum.ObjectsRead, sum.ObjectsCommitted, sum.ObjectsBad, sum.ObjectsFailed
	st.Retries, st.EventsSeen, st.EventsKept = sum.Retries, sum.EventsSeen, sum.EventsKept
	st.BytesRead, st.Uncompressed, st.Failures, st.SQS = sum.BytesRead, sum.BytesUncompressed, sum.Failures, sum.SQS
	s3c.mu.Lock()
	keys := s3c.keys
	st.Lists, st.RangedGets = s3c.lists, s3c.ranged
	s3c.mu.Unlock()
	st.Gets = len(keys)
	if queues != nil {
		queues.mu.Lock()
		calls := queues.calls
		queues.mu.Unlock()
		st.SQSCalls = &calls
	}
	if err := os.WriteFile(*out+".keys", []byte(strings.Join(keys, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(*out+".stats", js, 0o644); err != nil {
		return err
	}
	log.Printf("%s: %d objects committed, %d events seen, %d kept, %d printed in %.2f s (%.0f objects/s)",
		*out, st.ObjectsCommitted, st.EventsSeen, st.EventsKept, st.Printed, st.Seconds, float64(st.ObjectsCommitted)/st.Seconds)
	if st.TimedOut {
		return fmt.Errorf("timed out after %s", *timeout)
	}
	return nil
}

type settingsFlag map[string]string

func (s settingsFlag) String() string { return fmt.Sprint(map[string]string(s)) }

func (s settingsFlag) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("want key=value, got %q", kv)
	}
	s[strings.TrimSpace(k)] = v
	return nil
}

// verify checks and sums the outputs of one run's consumers.
func verify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ExitOnError)
	objects := fs.Int("objects", 0, "objects in the archive")
	events := fs.Int64("events", 0, "events in the archive")
	kept := fs.Int("kept", 0, "OpsWorks events in the archive")
	envFile := fs.String("env", "", "file for the shell assignments")
	partial := fs.Bool("partial", false, "a run bounded by -duration: report, do not require completeness")
	fs.Parse(args)
	if fs.NArg() == 0 || *envFile == "" {
		return errors.New("verify needs -env and at least one PREFIX")
	}
	var (
		sum      consumerStats
		sqsSum   input.SQSStats
		calls    sqsCalls
		reads    = map[string]int{}
		eventIDs = map[string]int{}
		perProc  []string
	)
	for _, p := range fs.Args() {
		var st consumerStats
		b, err := os.ReadFile(p + ".stats")
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("%s.stats: %w", p, err)
		}
		sum.Gets += st.Gets
		sum.Lists += st.Lists
		sum.ObjectsRead += st.ObjectsRead
		sum.ObjectsCommitted += st.ObjectsCommitted
		sum.ObjectsBad += st.ObjectsBad
		sum.ObjectsFailed += st.ObjectsFailed
		sum.Retries += st.Retries
		sum.EventsSeen += st.EventsSeen
		sum.EventsKept += st.EventsKept
		sum.Printed += st.Printed
		sum.Collects += st.Collects
		sum.TimedOut = sum.TimedOut || st.TimedOut
		if st.SQS != nil {
			sqsSum.MessagesReceived += st.SQS.MessagesReceived
			sqsSum.MessagesDeleted += st.SQS.MessagesDeleted
			sqsSum.MessagesLeft += st.SQS.MessagesLeft
			sqsSum.DeleteFailures += st.SQS.DeleteFailures
			sqsSum.Extensions += st.SQS.Extensions
		}
		if st.SQSCalls != nil {
			calls.Receives += st.SQSCalls.Receives
			calls.ReceivesEmpty += st.SQSCalls.ReceivesEmpty
			calls.ReceiveAsked += st.SQSCalls.ReceiveAsked
			calls.ReceivedMessages += st.SQSCalls.ReceivedMessages
			calls.DeleteBatches += st.SQSCalls.DeleteBatches
			calls.DeleteEntries += st.SQSCalls.DeleteEntries
		}
		perProc = append(perProc, fmt.Sprint(st.ObjectsCommitted))
		sum.MaxMessages = st.MaxMessages
		keys, err := os.ReadFile(p + ".keys")
		if err != nil {
			return err
		}
		for _, k := range strings.Split(strings.TrimSpace(string(keys)), "\n") {
			if k != "" {
				reads[k]++
			}
		}
		f, err := os.Open(p + ".out")
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var ev struct {
				EventID string `json:"eventID"`
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.EventID == "" {
				f.Close()
				return fmt.Errorf("%s.out: a line without eventID: %.200s", p, sc.Text())
			}
			eventIDs[ev.EventID]++
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return err
		}
	}
	dupObjects, dupEvents := 0, 0
	for _, n := range reads {
		dupObjects += n - 1
	}
	for _, n := range eventIDs {
		dupEvents += n - 1
	}
	var problems []string
	if !*partial {
		if len(reads) != *objects {
			problems = append(problems, fmt.Sprintf("%d distinct objects read, want %d", len(reads), *objects))
		}
		if sum.ObjectsCommitted+sum.ObjectsBad < int64(*objects) {
			problems = append(problems, fmt.Sprintf("%d objects committed, want %d", sum.ObjectsCommitted+sum.ObjectsBad, *objects))
		}
		if len(eventIDs) != *kept {
			problems = append(problems, fmt.Sprintf("%d distinct OpsWorks events, want %d", len(eventIDs), *kept))
		}
		if sum.EventsSeen < *events {
			problems = append(problems, fmt.Sprintf("%d events seen, want %d", sum.EventsSeen, *events))
		}
	}
	if sum.ObjectsBad+sum.ObjectsFailed > 0 || sum.TimedOut {
		problems = append(problems, fmt.Sprintf("%d bad, %d failed objects, timed out %v", sum.ObjectsBad, sum.ObjectsFailed, sum.TimedOut))
	}
	status := "ok"
	if len(problems) > 0 {
		status = strings.Join(problems, "; ")
	}
	sort.Strings(perProc)
	env := fmt.Sprintf("V_LISTS=%d\nV_GETS=%d\nV_DISTINCT=%d\nV_DUP_OBJECTS=%d\nV_COMMITTED=%d\nV_EVENTS_SEEN=%d\nV_KEPT=%d\nV_PRINTED=%d\nV_DISTINCT_EVENTS=%d\nV_DUP_EVENTS=%d\n"+
		"V_RETRIES=%d\nV_COLLECTS=%d\nV_RECEIVED=%d\nV_DELETED=%d\nV_LEFT=%d\nV_DELETE_FAILURES=%d\nV_PER_PROCESS=%q\nV_STATUS=%q\n"+
		"V_MAX_MESSAGES=%d\nV_RECEIVES=%d\nV_RECEIVES_EMPTY=%d\nV_RECEIVE_ASKED=%d\nV_DELETE_BATCHES=%d\nV_DELETE_ENTRIES=%d\n",
		sum.Lists, sum.Gets, len(reads), dupObjects, sum.ObjectsCommitted, sum.EventsSeen, sum.EventsKept, sum.Printed, len(eventIDs), dupEvents,
		sum.Retries, sum.Collects, sqsSum.MessagesReceived, sqsSum.MessagesDeleted, sqsSum.MessagesLeft, sqsSum.DeleteFailures,
		strings.Join(perProc, "+"), status,
		sum.MaxMessages, calls.Receives, calls.ReceivesEmpty, calls.ReceiveAsked, calls.DeleteBatches, calls.DeleteEntries)
	if err := os.WriteFile(*envFile, []byte(env), 0o644); err != nil {
		return err
	}
	if len(problems) > 0 {
		return errors.New(status)
	}
	return nil
}
