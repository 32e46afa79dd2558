package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/router/edge"
	"github.com/careslot/careslot/internal/uid"
)

// hostileHTTP and hostileWS are the corpus files' cases (e2e/hostile/gen.go documents them).
type hostileHTTP struct {
	Name        string            `json:"name"`
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	ContentType *string           `json:"contentType"`
	Headers     map[string]string `json:"headers"`
	Token       string            `json:"token"`
	Body        string            `json:"body"`
	BodyBase64  string            `json:"bodyBase64"`
	Parts       []struct {
		Text  string `json:"text"`
		Count int    `json:"count"`
	} `json:"parts"`
	Status   []int    `json:"status"`
	Codes    []string `json:"codes"`
	Answered bool     `json:"answered"`
	Stream   bool     `json:"stream"`
}

type hostileWS struct {
	Name     string            `json:"name"`
	Headers  map[string]string `json:"headers"`
	Protocol string            `json:"protocol"`
	Frames   []struct {
		Text        string `json:"text"`
		PadBytes    int    `json:"padBytes"`
		Count       int    `json:"count"`
		RawBase64   string `json:"rawBase64"`
		PauseMillis int    `json:"pauseMillis"`
	} `json:"frames"`
	Expect       string `json:"expect"`
	CloseCodes   []int  `json:"closeCodes"`
	ResetAllowed bool   `json:"resetAllowed"`
	Code         string `json:"code"`
	Status       []int  `json:"status"`
}

func loadCorpus[T any](t *testing.T, name string) []T {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "e2e", "hostile", name))
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var c T
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, c)
	}
	return out
}

// hostileFixtures are the accounts and appointment the corpus aims at.
type hostileFixtures struct {
	vars   *strings.Replacer
	tokens map[string]string
}

// TestHostileCorpusThroughTheRouter sends the versioned corpus of hostile requests
// (e2e/hostile/*.jsonl) to the whole system, twice: no answer is a 5xx, every HTTP request gets a
// whole answer, every refusal carries an extensions.code, the WebSocket abuses end as they should,
// no table of any store changes, and the process holds no more goroutines or heap afterwards.
func TestHostileCorpusThroughTheRouter(t *testing.T) {
	s := startStack(t)
	httpCases := loadCorpus[hostileHTTP](t, "http.jsonl")
	wsCases := loadCorpus[hostileWS](t, "ws.jsonl")
	if n := len(httpCases) + len(wsCases); n < 200 {
		t.Fatalf("the corpus has %d cases, want at least 200", n)
	}
	f := newHostileFixtures(t, s)

	stores := openStores(t, s)
	before := quietSnapshot(t, stores)
	goroutinesBefore := settledGoroutines(0)

	var heap [2]uint64
	var goroutines [2]int
	for pass := range 2 {
		client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		for _, c := range httpCases {
			runHostileHTTP(t, s, f, client, c)
		}
		client.CloseIdleConnections()
		for _, c := range wsCases {
			runHostileWS(t, s, f, c)
		}
		heap[pass] = heapInUse()
		goroutines[pass] = settledGoroutines(goroutinesBefore)
	}

	// Still serving, for HTTP and WebSocket alike.
	if codes := s.errorCodes(t, "", s.op(t, "SpecialtyCatalog"), map[string]any{"country": "fr"}); len(codes) != 0 {
		t.Errorf("after the corpus a plain query fails: %v", codes)
	}
	probe := dialWS(t, s.wsURL(), f.tokens["patient"])
	_ = probe.Close()

	after := quietSnapshot(t, stores)
	for table, sum := range before {
		if after[table] != sum {
			t.Errorf("table %s changed under the corpus (rows:checksum %s → %s)", table, sum, after[table])
		}
	}
	for table := range after {
		if _, ok := before[table]; !ok {
			t.Errorf("table %s appeared under the corpus", table)
		}
	}
	// The first pass starts what then stays (a JWKS refresher, pooled upstream connections); a
	// second one must not add to it.
	if goroutines[1] > goroutines[0]+5 {
		t.Errorf("goroutines: %d before the corpus, %d after one pass, %d after two", goroutinesBefore, goroutines[0], goroutines[1])
	}
	// The first pass warms caches (plans, normalisations, verified tokens); a second one must
	// not leave more behind.
	if grown := int64(heap[1]) - int64(heap[0]); grown > 32<<20 {
		t.Errorf("heap in use grew by %d MiB from the first pass to the second", grown>>20)
	}
	t.Logf("%d HTTP and %d WebSocket cases, twice; goroutines %d before, %d and %d after each pass; heap in use after each pass %d, %d MiB; %d tables unchanged",
		len(httpCases), len(wsCases), goroutinesBefore, goroutines[0], goroutines[1], heap[0]>>20, heap[1]>>20, len(before))
}

func newHostileFixtures(t *testing.T, s *stack) *hostileFixtures {
	t.Helper()
	prID, typeID, prTok, day := livePractice(t, s, "Hostile")
	var practice struct {
		MyPractice struct{ Locations []struct{ ID string } }
	}
	s.run(t, prTok, `{ myPractice { locations { id } } }`, nil, &practice)
	paID, paTok := registerPatient(t, s, "Target")
	apptID := bookThrough(t, s, paTok, prID, typeID, tomorrowAt(10, 0), "hostile-"+paID)

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{"sub": paID, "iss": s.cfg.OIDCIssuer, "aud": s.cfg.OIDCAudience, "role": "patient",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	otherKey := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	otherKey.Header["kid"] = s.key.KeyID()
	otherTok, err := otherKey.SignedString(other)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	expired, err := s.key.Mint(auth.TokenClaims{Subject: paID, Role: auth.RolePatient, Issuer: s.cfg.OIDCIssuer, Audience: s.cfg.OIDCAudience}, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // its exp (whole seconds) is past

	braces := strings.Repeat("%7B", 20_000)
	return &hostileFixtures{
		vars: strings.NewReplacer("{{PRACTITIONER}}", prID, "{{TYPE}}", typeID, "{{LOCATION}}", practice.MyPractice.Locations[0].ID,
			"{{APPOINTMENT}}", apptID, "{{DAY}}", day, "{{START}}", tomorrowAt(11, 0).Format(time.RFC3339), "{{BRACES}}", braces),
		tokens: map[string]string{
			"patient":      paTok,
			"practitioner": prTok,
			"admin":        s.token(t, auth.RoleAdmin, uid.New()),
			"stranger":     s.token(t, auth.RolePatient, uid.New()),
			"expired":      expired,
			"garbage":      "eyJhbGciOi.garbage.!!",
			"none":         none,
			"otherkey":     otherTok,
		},
	}
}

func (c hostileHTTP) body(f *hostileFixtures) []byte {
	var b bytes.Buffer
	if c.BodyBase64 != "" {
		raw, _ := base64.StdEncoding.DecodeString(c.BodyBase64)
		b.Write(raw)
	}
	b.WriteString(f.vars.Replace(c.Body))
	for _, p := range c.Parts {
		text := f.vars.Replace(p.Text)
		if p.Count == 0 {
			b.WriteString(text)
			continue
		}
		numbered := strings.Contains(text, "{{N")
		for i := range p.Count {
			if numbered {
				b.WriteString(strings.NewReplacer("{{N}}", strconv.Itoa(i), "{{N+1}}", strconv.Itoa(i+1)).Replace(text))
			} else {
				b.WriteString(text)
			}
		}
	}
	return b.Bytes()
}

func runHostileHTTP(t *testing.T, s *stack, f *hostileFixtures, client *http.Client, c hostileHTTP) {
	t.Helper()
	method, path := c.Method, c.Path
	if method == "" {
		method = http.MethodPost
	}
	if path == "" {
		path = "/graphql"
	}
	body := c.body(f)
	ctx := context.Background()
	if c.Stream {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.cfg.RouterAddr+f.vars.Replace(path), bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	switch {
	case c.ContentType == nil:
		req.Header.Set("Content-Type", "application/json")
	case *c.ContentType != "-":
		req.Header.Set("Content-Type", *c.ContentType)
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	if c.Token != "" {
		tok, ok := f.tokens[c.Token]
		if !ok {
			t.Fatalf("%s: unknown token %q", c.Name, c.Token)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("%s: no answer (dropped connection): %v", c.Name, err)
		return
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil && !(c.Stream && errors.Is(err, context.DeadlineExceeded)) {
		t.Errorf("%s: answer cut short: %v", c.Name, err)
		return
	}
	status := resp.StatusCode
	if c.Stream {
		if status >= 500 {
			t.Errorf("%s: %d %.300s", c.Name, status, raw)
		}
		return
	}
	if status >= 500 {
		t.Errorf("%s: %d %.300s", c.Name, status, raw)
		return
	}
	if len(c.Status) > 0 && !slices.Contains(c.Status, status) {
		t.Errorf("%s: status %d, want one of %v (%.300s)", c.Name, status, c.Status, raw)
	}
	var doc struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	parseErr := json.Unmarshal(raw, &doc)
	if bytes.Contains(body, []byte("mutation")) && len(doc.Data) > 0 && !bytes.Equal(doc.Data, []byte("null")) && !allNull(doc.Data) {
		t.Errorf("%s: a hostile mutation was accepted: %.300s", c.Name, raw)
	}
	refused := status >= 400 || (len(doc.Errors) > 0 && doc.Data == nil)
	if method == http.MethodHead || method == http.MethodOptions || (status < 400 && len(raw) == 0) {
		return
	}
	if refused {
		if parseErr != nil || len(doc.Errors) == 0 {
			t.Errorf("%s: refusal %d not GraphQL-shaped: %.300s", c.Name, status, raw)
			return
		}
		for i, e := range doc.Errors {
			if code, _ := e.Extensions["code"].(string); code == "" {
				t.Errorf("%s: error %d has no extensions.code: %.300s", c.Name, i, raw)
			}
		}
	}
	if len(c.Codes) > 0 {
		code := ""
		if len(doc.Errors) > 0 {
			code, _ = doc.Errors[0].Extensions["code"].(string)
		}
		if !slices.Contains(c.Codes, code) {
			t.Errorf("%s: %d code %q, want one of %v (%.300s)", c.Name, status, code, c.Codes, raw)
		}
	}
}

func runHostileWS(t *testing.T, s *stack, f *hostileFixtures, c hostileWS) {
	t.Helper()
	proto := c.Protocol
	if proto == "" {
		proto = "graphql-transport-ws"
	}
	header := http.Header{}
	for k, v := range c.Headers {
		header.Set(k, v)
	}
	d := websocket.Dialer{Subprotocols: []string{proto}, HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial(s.wsURL(), header)
	if c.Expect == "refused" {
		if err == nil {
			_ = conn.Close()
			t.Errorf("%s: upgraded", c.Name)
			return
		}
		if resp == nil || !slices.Contains(c.Status, resp.StatusCode) {
			t.Errorf("%s: %v (%v), want status %v", c.Name, err, resp, c.Status)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: dial: %v", c.Name, err)
		return
	}
	defer conn.Close()
	// Read a close frame as it came, without answering it: the default handler writes the
	// answer, and when the router has already shut the socket that write fails (EPIPE) and
	// ReadMessage returns the write error instead of the close code (seen once in make test).
	conn.SetCloseHandler(func(int, string) error { return nil })
	for _, fr := range c.Frames {
		switch {
		case fr.PauseMillis > 0:
			time.Sleep(time.Duration(fr.PauseMillis) * time.Millisecond)
		case fr.RawBase64 != "":
			raw, _ := base64.StdEncoding.DecodeString(fr.RawBase64)
			_, _ = conn.NetConn().Write(raw)
		default:
			text := f.vars.Replace(strings.ReplaceAll(fr.Text, "{{PAD}}", strings.Repeat(" ", fr.PadBytes)))
			for i := range max(fr.Count, 1) {
				if err := conn.WriteMessage(websocket.TextMessage, []byte(strings.ReplaceAll(text, "{{N}}", strconv.Itoa(i)))); err != nil {
					break // the router may already have closed it
				}
			}
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	switch c.Expect {
	case "close":
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				reset := errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
				if len(c.CloseCodes) > 0 && !(c.ResetAllowed && reset) && (!errors.As(err, &ce) || !slices.Contains(c.CloseCodes, ce.Code)) {
					t.Errorf("%s: ended with %v, want close %v", c.Name, err, c.CloseCodes)
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Errorf("%s: still open", c.Name)
				}
				return
			}
		}
	case "open", "open or closed":
		// "open or closed": the router may keep the connection (anonymous) or end it with one of
		// CloseCodes; either way it did not authenticate anyone, answer 5xx or fall over.
		closedAsAllowed := func(err error) bool {
			var ce *websocket.CloseError
			return c.Expect == "open or closed" && errors.As(err, &ce) && slices.Contains(c.CloseCodes, ce.Code)
		}
		if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
			if !closedAsAllowed(err) {
				t.Errorf("%s: closed: %v", c.Name, err)
			}
			return
		}
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				if !closedAsAllowed(err) {
					t.Errorf("%s: closed: %v", c.Name, err)
				}
				return
			}
			if bytes.Contains(msg, []byte(`"pong"`)) {
				return
			}
		}
	case "errors":
		limit := edgeDefaults(t).WebSocket.MaxSubscriptionsPerConnection
		sent := 0
		for _, fr := range c.Frames {
			if strings.Contains(fr.Text, `"subscribe"`) {
				sent += max(fr.Count, 1)
			}
		}
		refused := 0
		for refused < sent-limit {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				t.Errorf("%s: %d of %d refused, then %v", c.Name, refused, sent-limit, err)
				return
			}
			var m struct {
				Type    string `json:"type"`
				Payload []struct {
					Extensions map[string]any `json:"extensions"`
				} `json:"payload"`
			}
			if json.Unmarshal(msg, &m) == nil && m.Type == "error" {
				if len(m.Payload) != 1 || m.Payload[0].Extensions["code"] != c.Code {
					t.Errorf("%s: error %s", c.Name, msg)
					return
				}
				refused++
			}
		}
	}
}

// allNull reports whether every root field of a data object is null.
func allNull(data json.RawMessage) bool {
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return false
	}
	for _, v := range fields {
		if !bytes.Equal(v, []byte("null")) {
			return false
		}
	}
	return true
}

func edgeDefaults(t *testing.T) edge.Settings {
	t.Helper()
	s, err := edge.DefaultSettings()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openStores connects to every PostgreSQL store of the stack.
func openStores(t *testing.T, s *stack) map[string]*pgx.Conn {
	t.Helper()
	out := map[string]*pgx.Conn{}
	for service, dsn := range s.cfg.DatabaseURLs {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			continue // a service without a PostgreSQL store
		}
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		out[service] = conn
	}
	return out
}

// snapshot is a checksum of every row of every table of every store (partitioned tables whole),
// except the outbox, which the relay empties as it publishes.
func snapshot(t *testing.T, stores map[string]*pgx.Conn) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for service, conn := range stores {
		rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
			  AND c.relname <> 'outbox' AND c.relname NOT LIKE 'goose%'`)
		if err != nil {
			t.Fatal(err)
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range tables {
			var sum string
			if err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM %s t`,
				pgx.Identifier{table}.Sanitize())).Scan(&sum); err != nil {
				t.Fatalf("%s.%s: %v", service, table, err)
			}
			out[service+"."+table] = sum
		}
	}
	return out
}

// quietSnapshot waits until the background work of earlier steps (consumers, relays) has
// settled: two snapshots a second apart that agree.
func quietSnapshot(t *testing.T, stores map[string]*pgx.Conn) map[string]string {
	t.Helper()
	prev := snapshot(t, stores)
	for range 60 {
		time.Sleep(time.Second)
		cur := snapshot(t, stores)
		if fmt.Sprint(cur) == fmt.Sprint(prev) {
			return cur
		}
		prev = cur
	}
	t.Fatal("the stores never settled")
	return nil
}

// settledGoroutines waits (up to 30 s) until the goroutine count is at most want or stops
// falling, and returns it (want 0: just let it settle).
func settledGoroutines(want int) int {
	deadline := time.Now().Add(30 * time.Second)
	prev := -1
	for {
		runtime.GC()
		n := runtime.NumGoroutine()
		if n <= want || n == prev || time.Now().After(deadline) {
			return n
		}
		prev = n
		time.Sleep(500 * time.Millisecond)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
