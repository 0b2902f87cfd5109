package filter

// processor.go holds the Processor (its configuration-derived state, Stats,
// the pooled workspace) and its input side: FilterChunk frames a chunk into
// records (frameBody), and filterRecord, dispatch, cloudWatch and filterText
// find the CloudTrail events in each record by its shape.

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/opsworks-trail/opsworks-trail/internal/ratelimit"
	"github.com/opsworks-trail/opsworks-trail/record"
)

// Processor runs the filter over Fluent Bit chunks. It is safe for concurrent
// use: Fluent Bit calls one filter instance from every threaded input's thread.
type Processor struct {
	cfg      *Config
	sources  map[string]struct{}
	redact   [][]byte // normalized name fragments
	memory   *serverMemory
	tags     map[string]string // variant → tag, built once
	warnings *ratelimit.Limiter
	pool     sync.Pool
	Stats    Stats

	// fullDecode turns off the paths that read records undecoded (a single
	// event dropped by its eventSource, log files' events picked from the
	// msgpack): every body is decoded whole. The full path is the reference
	// the tests hold the fast paths to, and where they fall back to.
	fullDecode bool
}

// Stats are the processor's counters since start.
type Stats struct {
	Records      atomic.Uint64 // records examined
	Passthrough  atomic.Uint64 // records that were not CloudTrail and went through untouched
	Events       atomic.Uint64 // CloudTrail events found
	Kept         atomic.Uint64 // events emitted (selected, or kept by keep_other_events)
	Dropped      atomic.Uint64 // events from other sources, dropped
	Errors       atomic.Uint64 // records/events kept with opsworks_error (or sent to error_tag)
	TimeWarnings atomic.Uint64 // events whose eventTime could not be parsed
	Refused      atomic.Uint64 // records Fluent Bit's emitter refused (kept under the incoming tag)
	Lost         atomic.Uint64 // re-tagged records still waiting for a paused emitter when Fluent Bit stopped
	Integrity    atomic.Uint64 // integrity records from the cloudtrail_s3 input, re-tagged tag_prefix + "integrity"
}

func (s *Stats) String() string {
	return fmt.Sprintf("records=%d passthrough=%d events=%d kept=%d dropped=%d errors=%d integrity=%d time_warnings=%d emitter_refused=%d emitter_lost=%d",
		s.Records.Load(), s.Passthrough.Load(), s.Events.Load(), s.Kept.Load(), s.Dropped.Load(), s.Errors.Load(), s.Integrity.Load(), s.TimeWarnings.Load(), s.Refused.Load(), s.Lost.Load())
}

// NewProcessor builds a processor; warn receives rate-limited warnings.
func NewProcessor(cfg *Config, warn func(string)) *Processor {
	p := &Processor{cfg: cfg, sources: map[string]struct{}{}, memory: newServerMemory(cfg.ServerMemorySize)}
	for _, s := range cfg.EventSources {
		p.sources[s] = struct{}{}
	}
	if cfg.Redact {
		for _, k := range cfg.RedactKeys {
			p.redact = append(p.redact, normalizeName(nil, []byte(k)))
		}
	}
	p.tags = map[string]string{}
	for _, v := range []string{VariantStacks, VariantChefAutomate, VariantPuppetEnterprise, VariantCMUnknown} {
		p.tags[v] = cfg.TagPrefix + v
	}
	p.warnings = ratelimit.New(cfg.WarningInterval, warn)
	p.pool.New = func() any {
		return &workspace{redactor: redactor{keys: p.redact, maxDepth: cfg.MaxDepth}}
	}
	return p
}

// Config returns the processor's configuration.
func (p *Processor) Config() *Config { return p.cfg }

// RememberedServers is the size of the serverName → engine memory.
func (p *Processor) RememberedServers() int { return p.memory.Len() }

// workspace is the per-call scratch state, pooled so the hot path allocates nothing.
type workspace struct {
	body0          record.Value // the current record's decoded body
	decodeErr      error        // why body0 could not be decoded
	arena          record.Arena
	json           record.JSONDecoder
	body           []record.Value
	out            []byte
	mayHaveBadUTF8 bool            // the current structured record has an invalid string
	records        []byte          // the Records array of a log file framed by frameLogFile, left encoded
	top            []record.Value  // the top-level entries of that log file's body
	events         []logEvent      // the elements of that Records array that were decoded
	dropped        int             // and how many were dropped undecoded
	redactor       redactor        // redaction, with its per-workspace cache of key names
	ecs            [6]record.Value // the objects ecs_fields adds to the current event
}

// FilterChunk filters a chunk of Fluent Bit log events into res.
func (p *Processor) FilterChunk(data []byte, res *Result) error {
	res.reset()
	ws := p.pool.Get().(*workspace)
	defer p.pool.Put(ws)
	for off := 0; off < len(data); {
		rec, bodyStart, err := record.SplitHeader(data, off, &ws.arena)
		var end int
		dropped := false
		if err == nil {
			// The body's end is found while processing it (by the decoder, or by
			// skipping what the fast path did not read): one pass, not two.
			end, dropped, err = p.frameBody(data, bodyStart, ws)
		}
		if err != nil {
			// The rest of the chunk cannot be framed: keep it as it is rather than lose it.
			p.warnings.Warn("chunk", fmt.Sprintf("undecodable chunk data kept unchanged: %v", err))
			res.Keep = append(res.Keep, data[off:]...)
			res.KeepN++
			break
		}
		rec.Body = data[bodyStart:end]
		rec.Raw = data[off:end]
		p.Stats.Records.Add(1)
		if dropped {
			p.Stats.Events.Add(1)
			p.Stats.Dropped.Add(1)
			res.Modified = true
		} else if !p.filterRecord(ws, &rec, res) {
			res.Keep = append(res.Keep, rec.Raw...)
			res.KeepN++
			p.Stats.Passthrough.Add(1)
		}
		off = end
	}
	return nil
}

// frameBody finds where the body starting at start ends. The common input of
// one event per record from an unselected source is recognised from its keys
// and skipped undecoded (dropped); a log file has only its kept events
// decoded (frameLogFile). Otherwise the body is decoded whole into ws.body0
// on the way, so filterRecord does not decode it again; a body the decoder
// rejects (e.g. too deep) is framed by skipping it, and filterRecord reports
// the decode error. The fast paths fall back to that whole decode for
// anything they cannot vouch for.
func (p *Processor) frameBody(data []byte, start int, ws *workspace) (end int, dropped bool, err error) {
	ws.arena.Reset()
	ws.mayHaveBadUTF8, ws.decodeErr, ws.records = false, nil, nil
	if p.cfg.SourceKey == "" && !p.fullDecode {
		if !p.cfg.KeepOtherEvents {
			drop, selected, n := peekUnselected(data[start:], p.sources, p.cfg.MaxDepth)
			if drop {
				return start + n, true, nil
			}
			if selected {
				if end, ok := decodeEvent(data, start, p.cfg.MaxDepth, ws, &ws.body0); ok {
					return end, false, nil
				}
			}
		}
		if end, ok := p.frameLogFile(data, start, ws); ok {
			return end, false, nil
		}
		ws.arena.Reset() // what frameLogFile decoded before it gave up
	}
	next, badUTF8, err := record.DecodeMsgpack(data, start, p.cfg.MaxDepth, &ws.arena, &ws.body0)
	if err != nil {
		ws.decodeErr = err
		end, err = record.SkipMsgpack(data, start)
		return end, false, err
	}
	// JSON text is validated by its parser; a structured record only needs the
	// per-event search for the bad field when the decoder saw one.
	ws.mayHaveBadUTF8 = badUTF8 > 0
	return next, false, nil
}

// filterRecord handles one record; false means "not CloudTrail, pass through".
func (p *Processor) filterRecord(ws *workspace, rec *record.Record, res *Result) bool {
	if ws.decodeErr != nil {
		p.recordError(ws, rec, nil, res, fmt.Sprintf("record: %v", ws.decodeErr))
		return true
	}
	body := ws.body0
	if body.Kind == record.KindMap && body.Get(record.FieldIntegrityStatus) != nil && body.Get("Records") == nil && body.Get("eventSource") == nil {
		// An integrity record of the cloudtrail_s3 input (validate_integrity):
		// unchanged, under its own tag, so that pipelines route it next to
		// the events (see "Integrity" in the README).
		p.Stats.Integrity.Add(1)
		res.Modified = true
		if p.cfg.Retag {
			res.emitBuf(p.cfg.TagPrefix + IntegrityTagSuffix).add(rec.Raw)
		} else {
			res.Keep = append(res.Keep, rec.Raw...)
			res.KeepN++
		}
		return true
	}
	if body.Kind == record.KindMap && body.Get(FieldError) != nil && body.Get("Records") == nil && body.Get("eventSource") == nil {
		// An error record from upstream (the cloudtrail_s3 input's unreadable
		// files and events): unchanged, but routed like the filter's own.
		p.Stats.Errors.Add(1)
		res.Modified = true
		p.route(rec.Raw, res)
		return true
	}
	if p.cfg.SourceKey != "" {
		return p.filterText(ws, rec, &body, res)
	}
	return p.dispatch(ws, rec, &body, nil, res)
}

// dispatch routes a decoded body by shape. carrier is the record whose
// source_key held the text (its other fields are carried over), or nil.
func (p *Processor) dispatch(ws *workspace, rec *record.Record, body *record.Value, carrier *record.Value, res *Result) bool {
	sh, fields := detect(body)
	switch sh {
	case shapeLogFile:
		records := fields.records
		if records.Kind != record.KindArray {
			p.recordError(ws, rec, carrier, res, fmt.Sprintf("Records is a %s, not an array", records.Kind))
			return true
		}
		res.Modified = true
		// Fields beside Records (provenance such as s3_bucket/s3_key added by
		// the cloudtrail_s3 input) belong to every event of the file.
		evCarrier := carrier
		if evCarrier == nil && body.Len() > 1 {
			evCarrier = body
		}
		if ws.records != nil && carrier == nil {
			p.logFileEvents(ws, rec, evCarrier, res)
			return true
		}
		for i := range records.Items {
			p.event(ws, rec, &records.Items[i], nil, evCarrier, res, location{"Records", i, ""})
		}
		return true
	case shapeEvent:
		res.Modified = true
		p.event(ws, rec, body, &fields, carrier, res, location{index: -1})
		return true
	case shapeEventBridge:
		detail := fields.detail
		if detail.Kind != record.KindMap || detail.Get("eventSource") == nil {
			p.recordError(ws, rec, carrier, res, "detail is not a CloudTrail event")
			return true
		}
		res.Modified = true
		p.event(ws, rec, detail, nil, carrier, res, location{"detail", -1, ""})
		return true
	case shapeCloudWatch:
		return p.cloudWatch(ws, rec, fields.logEvents, carrier, res)
	}
	return false
}

// cloudWatch handles a CloudWatch Logs subscription payload: each
// logEvents[].message holds one CloudTrail event as JSON text.
func (p *Processor) cloudWatch(ws *workspace, rec *record.Record, events *record.Value, carrier *record.Value, res *Result) bool {
	if events.Kind != record.KindArray {
		p.recordError(ws, rec, carrier, res, "logEvents is a "+events.Kind.String()+", not an array")
		return true
	}
	res.Modified = true
	for i := range events.Items {
		at := location{"logEvents", i, ".message"}
		msg := events.Items[i].Get("message")
		if msg == nil || (msg.Kind != record.KindString && msg.Kind != record.KindBinary) {
			p.eventError(ws, rec, &events.Items[i], res, at.String()+" is missing or not a string")
			continue
		}
		ev, err := p.decodeJSON(ws, msg.Str)
		if err != nil {
			p.eventError(ws, rec, &events.Items[i], res, at.String()+": "+err.Error())
			continue
		}
		if ev.Kind != record.KindMap || ev.Get("eventSource") == nil {
			p.eventError(ws, rec, &events.Items[i], res, at.String()+" is not a CloudTrail event")
			continue
		}
		p.event(ws, rec, &ev, nil, carrier, res, at)
	}
	return true
}

// filterText handles source_key mode: the key holds JSON text.
func (p *Processor) filterText(ws *workspace, rec *record.Record, body *record.Value, res *Result) bool {
	text := body.Get(p.cfg.SourceKey)
	if text == nil || (text.Kind != record.KindString && text.Kind != record.KindBinary) {
		return false
	}
	trimmed := bytes.TrimLeft(text.Str, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return false // not JSON: some other log line
	}
	if len(text.Str) > p.cfg.MaxEventSize*64 {
		p.recordError(ws, rec, body, res, fmt.Sprintf("%s: JSON text of %d bytes exceeds 64 × max_event_size", p.cfg.SourceKey, len(text.Str)))
		return true
	}
	doc, err := p.decodeJSON(ws, text.Str)
	if err != nil {
		p.recordError(ws, rec, body, res, fmt.Sprintf("%s: %v", p.cfg.SourceKey, err))
		return true
	}
	return p.dispatch(ws, rec, &doc, body, res)
}

func (p *Processor) decodeJSON(ws *workspace, text []byte) (record.Value, error) {
	return ws.json.Decode(text, p.cfg.MaxDepth, &ws.arena)
}
