package main

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/opsworks-trail/opsworks-trail/filter"
	"github.com/opsworks-trail/opsworks-trail/internal/audit"
	"github.com/opsworks-trail/opsworks-trail/record"
)

// Report limits: the aggregates are small whatever the window; the detail
// tables keep their first rows (in reading order) and say how many more
// there were.
const (
	reportRows       = 200    // rows of each detail table
	reportPrincipals = 20     // principals and actions shown
	reportKeys       = 100000 // distinct principals, actions or resources kept before "others"
)

// report aggregates the filter's records while the sources are read
// (memory: the counters and the capped tables, not the events).
type report struct {
	sources        []string
	events         int
	first, last    time.Time
	byVariant      map[string]int
	byHour         map[string]map[string]int // YYYY-MM-DDTHH → variant → events (44k hours in 5 years)
	principals     counter
	actions        counter
	failed         detailTable
	sensitive      detailTable
	resources      map[string]*resource // server or stack → activity
	resourcesOver  int
	errorRecords   int
	integrity      map[string]int
	integrityRows  detailTable
	integrityFiles map[string]int // s3_integrity of the events, by status
}

type counter struct {
	n      map[string]int
	others int
}

func (c *counter) add(k string) {
	if _, ok := c.n[k]; !ok && len(c.n) >= reportKeys {
		c.others++
		return
	}
	c.n[k]++
}

type kv struct {
	Key   string
	Count int
}

func (c *counter) top(n int) []kv {
	out := make([]kv, 0, len(c.n))
	for k, v := range c.n {
		out = append(out, kv{k, v})
	}
	slices.SortFunc(out, func(a, b kv) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key)) })
	return out[:min(n, len(out))]
}

type detailTable struct {
	Rows  [][]string
	Total int
}

func (d *detailTable) add(row ...string) {
	d.Total++
	if len(d.Rows) < reportRows {
		d.Rows = append(d.Rows, row)
	}
}

type resource struct {
	Kind, Name, Variant string
	First, Last         time.Time
	Events              int
}

func newReport(sources []string) *report {
	return &report{sources: sources, byVariant: map[string]int{}, byHour: map[string]map[string]int{},
		principals: counter{n: map[string]int{}}, actions: counter{n: map[string]int{}}, resources: map[string]*resource{},
		integrity: map[string]int{}, integrityFiles: map[string]int{}}
}

func str(v *record.Value, key string) string {
	if f := v.Get(key); f != nil && f.Kind == record.KindString {
		return string(f.Str)
	}
	return ""
}

// add takes one record as the filter printed it.
func (r *report) add(_ record.EventTime, body *record.Value) error {
	if st := str(body, record.FieldIntegrityStatus); st != "" {
		r.integrity[st]++
		r.integrityRows.add(str(body, "delivered"), st, str(body, "s3_key"), str(body, "detail"))
		return nil
	}
	if body.Get(filter.FieldError) != nil {
		r.errorRecords++
		return nil
	}
	variant := str(body, filter.FieldVariant)
	if variant == "" {
		return nil // not an OpsWorks event (keep_other_events)
	}
	t, err := time.Parse(time.RFC3339, str(body, "eventTime"))
	if err != nil {
		t = time.Time{}
	}
	r.events++
	r.byVariant[variant]++
	if !t.IsZero() {
		if r.first.IsZero() || t.Before(r.first) {
			r.first = t
		}
		if t.After(r.last) {
			r.last = t
		}
		hour := t.UTC().Format("2006-01-02T15")
		if r.byHour[hour] == nil {
			r.byHour[hour] = map[string]int{}
		}
		r.byHour[hour][variant]++
	}
	principal := principalOf(body)
	action := str(body, "eventName")
	r.principals.add(principal)
	r.actions.add(variantName(variant) + ": " + action)
	when := ""
	if !t.IsZero() {
		when = t.UTC().Format(time.RFC3339)
	}
	if code := str(body, "errorCode"); code != "" {
		r.failed.add(when, action, code, principal, str(body, "sourceIPAddress"), str(body, "awsRegion"))
	}
	if audit.IsDestructive(action) {
		r.sensitive.add(when, action, principal, mfa(body), str(body, "sourceIPAddress"), str(body, "awsRegion"))
	}
	if s := str(body, "s3_integrity"); s != "" {
		r.integrityFiles[s]++
	}
	r.resource(body, variant, t)
	return nil
}

// principalOf is who made the call, from the flattened identity: the
// role session or user ARN, else the principal ID, else the type.
func principalOf(b *record.Value) string {
	for _, k := range []string{"userIdentity_arn", "userIdentity_principalId", "userIdentity_invokedBy", "userIdentity_type"} {
		if s := str(b, k); s != "" {
			return s
		}
	}
	return "(unknown)"
}

func mfa(b *record.Value) string {
	switch str(b, "userIdentity_sessionContext_attributes_mfaAuthenticated") {
	case "true":
		return "yes"
	case "false":
		return "no"
	}
	return ""
}

// resource notes the OpsWorks CM server or Stacks stack an event names.
func (r *report) resource(b *record.Value, variant string, t time.Time) {
	kind, name := "server", ""
	if rp := b.Get("requestParameters"); rp != nil && rp.Kind == record.KindMap {
		name = str(rp, "serverName")
		if name == "" {
			kind, name = "stack", str(rp, "stackId")
		}
	}
	if name == "" {
		return
	}
	key := kind + "\x00" + name
	res := r.resources[key]
	if res == nil {
		if len(r.resources) >= reportKeys {
			r.resourcesOver++
			return
		}
		res = &resource{Kind: kind, Name: name, Variant: variantName(variant)}
		r.resources[key] = res
	}
	res.Events++
	if !t.IsZero() && (res.First.IsZero() || t.Before(res.First)) {
		res.First = t
	}
	if t.After(res.Last) {
		res.Last = t
	}
}

var variantNames = map[string]string{filter.VariantStacks: "Stacks", filter.VariantChefAutomate: "Chef Automate",
	filter.VariantPuppetEnterprise: "Puppet Enterprise", filter.VariantCMUnknown: "OpsWorks CM (engine unknown)"}

var variantOrder = []string{filter.VariantStacks, filter.VariantChefAutomate, filter.VariantPuppetEnterprise, filter.VariantCMUnknown}

var variantColors = map[string]string{filter.VariantStacks: "#1f77b4", filter.VariantChefAutomate: "#d62728",
	filter.VariantPuppetEnterprise: "#9467bd", filter.VariantCMUnknown: "#7f7f7f"}

func variantName(v string) string { return cmp.Or(variantNames[v], v) }

// bar is one bar of a chart (SVG coordinates computed here: the report
// has no script).
type bar struct {
	X, Y, W, H float64
	Color      string
	Title      string
}

type variantRow struct {
	ID, Name, Color string
	Count           int
}

// timeline draws events per hour (a window of up to 3 days), per day (up
// to 400 days) or per month, stacked by product.
func (r *report) timeline() (bars []bar, labels []string, unit string) {
	hours := slices.Sorted(maps.Keys(r.byHour))
	if len(hours) == 0 {
		return nil, nil, "day"
	}
	first, _ := time.Parse("2006-01-02T15", hours[0])
	last, _ := time.Parse("2006-01-02T15", hours[len(hours)-1])
	unit, cut := "hour", len("2006-01-02T15")
	switch span := last.Sub(first); {
	case span > 400*24*time.Hour:
		unit, cut = "month", len("2006-01")
	case span > 72*time.Hour:
		unit, cut = "day", len("2006-01-02")
	}
	buckets := map[string]map[string]int{}
	for _, h := range hours {
		k := h[:cut]
		if buckets[k] == nil {
			buckets[k] = map[string]int{}
		}
		for v, n := range r.byHour[h] {
			buckets[k][v] += n
		}
	}
	keys := slices.Sorted(maps.Keys(buckets))
	most := 0
	for _, k := range keys {
		sum := 0
		for _, n := range buckets[k] {
			sum += n
		}
		most = max(most, sum)
	}
	const width, height = 900.0, 200.0
	w := width / float64(len(keys))
	for i, k := range keys {
		y := height
		for _, v := range variantOrder {
			n := buckets[k][v]
			if n == 0 {
				continue
			}
			h := height * float64(n) / float64(most)
			y -= h
			bars = append(bars, bar{X: float64(i) * w, Y: y, W: max(w-1, 0.5), H: h, Color: variantColors[v],
				Title: fmt.Sprintf("%s %s: %d", k, variantName(v), n)})
		}
	}
	return bars, []string{keys[0], keys[len(keys)-1]}, unit
}

type reportPage struct {
	Title, Generated, Sources, Window string
	Events, ErrorRecords              int
	Variants                          []variantRow
	VariantBars                       []bar
	Timeline                          []bar
	TimelineFrom, TimelineTo, Unit    string
	Principals, Actions               []kv
	PrincipalsOthers, ActionsMore     int
	Failed, Sensitive                 detailTable
	Resources                         []*resource
	ResourcesMore                     int
	Integrity                         []kv
	IntegrityFiles                    []kv
	IntegrityRows                     detailTable
	Cap                               int
}

// write renders the report as one self-contained HTML file.
func (r *report) write(w io.Writer) error {
	p := reportPage{Title: "OpsWorks audit report", Generated: time.Now().UTC().Format(time.RFC3339),
		Sources: strings.Join(r.sources, ", "), Events: r.events, ErrorRecords: r.errorRecords,
		Failed: r.failed, Sensitive: r.sensitive, IntegrityRows: r.integrityRows, Cap: reportRows,
		PrincipalsOthers: r.principals.others}
	if !r.first.IsZero() {
		p.Window = r.first.UTC().Format(time.RFC3339) + " – " + r.last.UTC().Format(time.RFC3339)
	}
	most := 0
	for _, v := range variantOrder {
		most = max(most, r.byVariant[v])
	}
	for i, v := range variantOrder {
		n := r.byVariant[v]
		p.Variants = append(p.Variants, variantRow{ID: v, Name: variantName(v), Color: variantColors[v], Count: n})
		wd := 0.0
		if most > 0 {
			wd = 600 * float64(n) / float64(most)
		}
		p.VariantBars = append(p.VariantBars, bar{X: 220, Y: float64(i) * 30, W: wd, H: 22, Color: variantColors[v],
			Title: fmt.Sprintf("%s: %d", variantName(v), n)})
	}
	var labels []string
	p.Timeline, labels, p.Unit = r.timeline()
	if len(labels) == 2 {
		p.TimelineFrom, p.TimelineTo = labels[0], labels[1]
	}
	p.Principals = r.principals.top(reportPrincipals)
	p.Actions = r.actions.top(reportPrincipals)
	p.ActionsMore = max(len(r.actions.n)-reportPrincipals, 0)
	res := slices.Collect(maps.Values(r.resources))
	slices.SortFunc(res, func(a, b *resource) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name)) })
	p.ResourcesMore = max(len(res)-reportRows, 0) + r.resourcesOver
	p.Resources = res[:min(len(res), reportRows)]
	for _, k := range slices.Sorted(maps.Keys(r.integrity)) {
		p.Integrity = append(p.Integrity, kv{k, r.integrity[k]})
	}
	for _, k := range slices.Sorted(maps.Keys(r.integrityFiles)) {
		p.IntegrityFiles = append(p.IntegrityFiles, kv{k, r.integrityFiles[k]})
	}
	return reportTemplate.Execute(w, p)
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"f":    func(x float64) string { return fmt.Sprintf("%.1f", x) },
	"text": func(y float64) string { return fmt.Sprintf("%.1f", y+16) },
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right}.note{color:#666;font-size:.9em}
svg text{font-size:12px;font-family:system-ui,sans-serif}
@media print{body{margin:0}h2{break-after:avoid}table,svg{break-inside:avoid}}
</style></head><body>
<h1>{{.Title}}</h1>
<p>Sources: {{.Sources}}<br>OpsWorks events: <b id="events" data-count="{{.Events}}">{{.Events}}</b>{{if .Window}}, {{.Window}}{{end}}<br>
Records the filter could not process: <span id="error-records" data-count="{{.ErrorRecords}}">{{.ErrorRecords}}</span><br>
<span class="note">Generated {{.Generated}} by opsworks-trail report. Tables show at most {{.Cap}} rows; the total is given.</span></p>

<h2>Events by product</h2>
<table id="variants"><tr><th>product</th><th>events</th></tr>
{{range .Variants}}<tr><td>{{.Name}}</td><td class="n" data-variant="{{.ID}}" data-count="{{.Count}}">{{.Count}}</td></tr>
{{end}}</table>
<svg id="variant-chart" width="900" height="125" role="img" aria-label="events by product">
{{range .VariantBars}}<text x="0" y="{{text .Y}}">{{.Title}}</text><rect x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}" fill="{{.Color}}"><title>{{.Title}}</title></rect>
{{end}}</svg>

<h2>Activity over time (events per {{.Unit}})</h2>
<svg id="timeline" width="900" height="220" role="img" aria-label="events per {{.Unit}} by product">
{{range .Timeline}}<rect class="bar" x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}" fill="{{.Color}}"><title>{{.Title}}</title></rect>
{{end}}<text x="0" y="215">{{.TimelineFrom}}</text><text x="900" y="215" text-anchor="end">{{.TimelineTo}}</text></svg>
<p class="note">{{range .Variants}}<span style="color:{{.Color}}">&#9632;</span> {{.Name}} &nbsp; {{end}}</p>

<h2>Top principals</h2>
<table id="principals"><tr><th>principal (role session, user or service)</th><th>events</th></tr>
{{range .Principals}}<tr><td>{{.Key}}</td><td class="n">{{.Count}}</td></tr>
{{end}}</table>

<h2>Top actions</h2>
<table id="actions"><tr><th>product: action</th><th>events</th></tr>
{{range .Actions}}<tr><td>{{.Key}}</td><td class="n">{{.Count}}</td></tr>
{{end}}</table>{{if .ActionsMore}}<p class="note">{{.ActionsMore}} more actions.</p>{{end}}

<h2>Failed calls</h2>
<table id="failed" data-total="{{.Failed.Total}}"><tr><th>time</th><th>action</th><th>error</th><th>principal</th><th>source IP</th><th>region</th></tr>
{{range .Failed.Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table><p class="note">{{.Failed.Total}} failed calls.</p>

<h2>Destructive and sensitive actions</h2>
<table id="sensitive" data-total="{{.Sensitive.Total}}"><tr><th>time</th><th>action</th><th>principal</th><th>MFA</th><th>source IP</th><th>region</th></tr>
{{range .Sensitive.Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table><p class="note">{{.Sensitive.Total}} destructive or sensitive calls (Delete*, Stop*, Deregister*, Disassociate*, Detach*, RestoreServer, UpdateServerEngineAttributes, SetPermission, Update{Stack,App,Layer,Instance,UserProfile}, GrantAccess).</p>

<h2>Servers and stacks</h2>
<table id="resources" data-total="{{len .Resources}}"><tr><th>kind</th><th>name or ID</th><th>product</th><th>first activity</th><th>last activity</th><th>events</th></tr>
{{range .Resources}}<tr><td>{{.Kind}}</td><td>{{.Name}}</td><td>{{.Variant}}</td><td>{{time .First}}</td><td>{{time .Last}}</td><td class="n">{{.Events}}</td></tr>
{{end}}</table>{{if .ResourcesMore}}<p class="note">{{.ResourcesMore}} more.</p>{{end}}

<h2>Integrity</h2>
{{if or .Integrity .IntegrityFiles}}<table id="integrity-files"><tr><th>verdict on the events' log files (s3_integrity)</th><th>events</th></tr>
{{range .IntegrityFiles}}<tr><td>{{.Key}}</td><td class="n">{{.Count}}</td></tr>
{{end}}</table>
<table id="integrity"><tr><th>finding</th><th>count</th></tr>
{{range .Integrity}}<tr><td>{{.Key}}</td><td class="n" data-status="{{.Key}}" data-count="{{.Count}}">{{.Count}}</td></tr>
{{end}}</table>
<table id="integrity-rows" data-total="{{.IntegrityRows.Total}}"><tr><th>delivered</th><th>status</th><th>file or digest</th><th>detail</th></tr>
{{range .IntegrityRows.Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{else}}<p id="integrity-none">Not validated: read the archive with <code>-input validate_integrity=on</code> (README, "Integrity") to prove it complete.</p>{{end}}
</body></html>
`))

// writeReport writes the report to path (a temporary file renamed into
// place: a failed run leaves no half report).
func writeReport(r *report, path string) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := r.write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
