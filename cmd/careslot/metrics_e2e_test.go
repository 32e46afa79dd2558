package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metricsql"
	"github.com/goccy/go-yaml"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/careslot/careslot/internal/httpserver"
)

// The files of the chart that name metrics: the alerts, the dashboard and the canary analysis.
var metricFiles = []string{
	filepath.Join("..", "..", "helm", "appointment-service", "files", "prometheus-rules.yaml"),
	filepath.Join("..", "..", "helm", "appointment-service", "files", "grafana-dashboard.json"),
	filepath.Join("..", "..", "helm", "appointment-service", "templates", "analysistemplate.yaml"),
}

// TestDashboardAndAlertMetricsAreExported books (and is refused) through the router, then
// scrapes the services' /metrics and the router's own, and checks that every metric the
// dashboard, the alert rules and the canary analysis name is exported, with every label their
// queries select, group or match on.
func TestDashboardAndAlertMetricsAreExported(t *testing.T) {
	s := startStack(t)
	prID, typeID, _, day := livePractice(t, s, "Metrics")
	// A live subscriber, which gets the current slots first.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := dialWS(t, s.wsURL(), "").Subscribe(ctx, s.op(t, "WatchSlots"), watchVars(prID, typeID, day), 16)
	if err != nil {
		t.Fatal(err)
	}
	nextSlotsMsg(t, sub, 10*time.Second)
	_, tok := registerPatient(t, s, "Metrics")
	at := tomorrowAt(10, 0)
	bookThrough(t, s, tok, prID, typeID, at, "metrics-1")
	if codes := s.errorCodes(t, tok, s.op(t, "BookAppointment"), bookVars(prID, typeID, at, "metrics-2")); len(codes) == 0 {
		t.Fatal("a second booking of the same slot was accepted")
	}

	services := httptest.NewServer(httpserver.Metrics())
	defer services.Close()
	want := namedMetrics(t)
	var missing []string
	eventually(t, "every named metric exported", func() string {
		exported := scrape(t, services.URL+"/metrics")
		for name, fam := range scrape(t, "http://"+s.cfg.RouterMetricsAddr+"/metrics") {
			exported[name] = fam
		}
		missing = missing[:0]
		for _, ref := range want {
			fam := exported[ref.family(exported)]
			if fam == nil {
				missing = append(missing, ref.name)
				continue
			}
			for _, l := range ref.labels {
				if !hasLabel(fam, l) {
					missing = append(missing, ref.name+"{"+l+"}")
				}
			}
		}
		if len(missing) > 0 {
			return fmt.Sprintf("not exported: %s", strings.Join(missing, ", "))
		}
		return ""
	})
	if len(want) < 15 {
		t.Fatalf("found only %d metrics in the chart's queries; the extraction is broken", len(want))
	}
}

type metricRef struct {
	name   string
	labels []string
}

// family is the exported family a reference reads: a histogram's _bucket, _sum and _count
// series belong to the histogram.
func (r metricRef) family(exported map[string]*dto.MetricFamily) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base := strings.TrimSuffix(r.name, suffix)
		if base != r.name {
			if f := exported[base]; f != nil && (f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_SUMMARY) {
				return base
			}
		}
	}
	return r.name
}

var metricRE = regexp.MustCompile(`\b((?:careslot|router)_[a-z0-9_]+)`)

// namedMetrics lists every careslot_ and router_ metric the chart's PromQL (alert rules,
// dashboard panels, canary analysis) reads, with every label the queries need it to carry: those
// of its selector's matchers, of the by (…) / without (…) clauses of the aggregations around it
// and of the on (…) / ignoring (…) / group_left (…) matchings it takes part in. Each query is
// parsed (MetricsQL's parser, a superset of PromQL's grammar); every metric name the files
// mention must be in a parsed query, so none escapes the check.
func namedMetrics(t *testing.T) []metricRef {
	t.Helper()
	byName := map[string]map[string]bool{}
	mentioned := map[string]bool{}
	queries := 0
	for _, f := range metricFiles {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metricRE.FindAllStringSubmatch(string(raw), -1) {
			mentioned[m[1]] = true
		}
		for _, q := range queriesIn(t, f, raw) {
			e, err := metricsql.Parse(q)
			if err != nil {
				t.Fatalf("%s: %q: %v", filepath.Base(f), q, err)
			}
			queries++
			labelsNeeded(e, nil, func(metric string, labels []string) {
				if byName[metric] == nil {
					byName[metric] = map[string]bool{}
				}
				for _, l := range labels {
					byName[metric][l] = true
				}
			})
		}
	}
	for name := range mentioned {
		if byName[name] == nil {
			t.Errorf("%s is named in the chart's files but in no query this test parsed", name)
		}
	}
	if queries < 20 {
		t.Fatalf("parsed only %d queries in the chart's files; the extraction is broken", queries)
	}
	var out []metricRef
	for name, labels := range byName {
		ref := metricRef{name: name}
		for l := range labels {
			ref.labels = append(ref.labels, l)
		}
		sort.Strings(ref.labels)
		out = append(out, ref)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// queriesIn extracts the PromQL of one of the chart's files: every "expr" of the alert rules
// (YAML) and of the dashboard (JSON), and every "query" of the analysis template, whose Helm
// actions are replaced by what booking's release renders.
func queriesIn(t *testing.T, file string, raw []byte) []string {
	t.Helper()
	if strings.HasSuffix(filepath.Dir(file), "templates") {
		var out []string
		lines := strings.Split(string(raw), "\n")
		for i := 0; i < len(lines); i++ {
			head := strings.TrimSpace(lines[i])
			if head != "query: >-" {
				continue
			}
			indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
			var q []string
			for i+1 < len(lines) && len(lines[i+1])-len(strings.TrimLeft(lines[i+1], " ")) > indent {
				i++
				q = append(q, strings.TrimSpace(lines[i]))
			}
			query := strings.Join(q, " ")
			query = helmSel.ReplaceAllString(query, `wg_subgraph_name="booking"`)
			query = helmWindow.ReplaceAllString(query, "5m")
			if strings.Contains(query, "{{") {
				t.Fatalf("%s: a Helm action this test does not render in %q", filepath.Base(file), query)
			}
			out = append(out, query)
		}
		return out
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil { // JSON is YAML
		t.Fatalf("%s: %v", filepath.Base(file), err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if q, ok := x.(string); ok && k == "expr" {
					out = append(out, q)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return out
}

var (
	helmSel    = regexp.MustCompile(`\{\{-?\s*\$sel\s*-?\}\}`)
	helmWindow = regexp.MustCompile(`\{\{-?\s*\$a\.window\s*-?\}\}`)
)

// labelsNeeded calls found for every metric selector in e with the labels it must carry: its
// matchers' and those the enclosing aggregations and vector matchings group or match on
// (inherited).
func labelsNeeded(e metricsql.Expr, inherited []string, found func(metric string, labels []string)) {
	switch e := e.(type) {
	case *metricsql.MetricExpr:
		for _, filters := range e.LabelFilterss {
			name := ""
			labels := append([]string(nil), inherited...)
			for _, f := range filters {
				if f.Label == "__name__" {
					name = f.Value
					continue
				}
				labels = append(labels, f.Label)
			}
			if name != "" {
				found(name, labels)
			}
		}
	case *metricsql.AggrFuncExpr:
		grouped := append(append([]string(nil), inherited...), e.Modifier.Args...)
		for _, a := range e.Args {
			labelsNeeded(a, grouped, found)
		}
	case *metricsql.BinaryOpExpr:
		matched := append(append([]string(nil), inherited...), e.GroupModifier.Args...)
		left, right := matched, matched
		switch e.JoinModifier.Op {
		case "group_left": // the right side is the "one" side whose labels are copied
			right = append(append([]string(nil), matched...), e.JoinModifier.Args...)
		case "group_right":
			left = append(append([]string(nil), matched...), e.JoinModifier.Args...)
		}
		labelsNeeded(e.Left, left, found)
		labelsNeeded(e.Right, right, found)
	case *metricsql.FuncExpr:
		for _, a := range e.Args {
			labelsNeeded(a, inherited, found)
		}
	case *metricsql.RollupExpr:
		labelsNeeded(e.Expr, inherited, found)
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v\n%.2000s", url, resp.Status, err, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return fams
}

// hasLabel reports whether some series of the family carries the label (an empty value counts:
// Prometheus treats a missing label as "").
func hasLabel(f *dto.MetricFamily, label string) bool {
	if label == "le" && f.GetType() == dto.MetricType_HISTOGRAM {
		return true // a histogram's buckets are its le series
	}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				return true
			}
		}
	}
	return false
}
