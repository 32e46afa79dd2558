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
// selectors use.
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
		t.Fatalf("found only %d metric references in the chart's files; the parser is broken", len(want))
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

var (
	metricRE   = regexp.MustCompile(`\b((?:careslot|router)_[a-z0-9_]+)(\{[^}]*\})?`)
	selectorRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
)

// namedMetrics lists every careslot_ and router_ metric the chart's files name, with the labels
// their selectors match on.
func namedMetrics(t *testing.T) []metricRef {
	t.Helper()
	byName := map[string]map[string]bool{}
	for _, f := range metricFiles {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// JSON and YAML escape quotes; the selectors read the same without them.
		text := strings.ReplaceAll(string(raw), `\"`, `"`)
		for _, m := range metricRE.FindAllStringSubmatch(text, -1) {
			if byName[m[1]] == nil {
				byName[m[1]] = map[string]bool{}
			}
			for _, l := range selectorRE.FindAllStringSubmatch(m[2], -1) {
				byName[m[1]][l[1]] = true
			}
		}
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
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				return true
			}
		}
	}
	return false
}
