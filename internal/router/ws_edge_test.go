package router_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/careslot/careslot/internal/router/edge"
	"github.com/careslot/careslot/internal/testenv"
)

type wsMessage struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

func dialWS(t testing.TB, httpURL string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial("ws"+strings.TrimPrefix(httpURL, "http"), nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// initWS sends connection_init and returns the router's first answer: nil for connection_ack,
// else the close error.
func initWS(t testing.TB, c *websocket.Conn, authorization string) error {
	t.Helper()
	payload := map[string]any{}
	if authorization != "" {
		payload["Authorization"] = authorization
	}
	if err := c.WriteJSON(map[string]any{"type": "connection_init", "payload": payload}); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m wsMessage
	if err := c.ReadJSON(&m); err != nil {
		return err
	}
	if m.Type != "connection_ack" {
		return fmt.Errorf("first message %q", m.Type)
	}
	return nil
}

func subscribe(c *websocket.Conn, id string) error {
	return c.WriteJSON(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": "subscription { ticks }"}})
}

func closeCode(err error) (int, string) {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Text
	}
	return 0, ""
}

// TestWebSocketSubscriptionsPerConnection: on each of many concurrent connections, ten
// subscriptions at once leave exactly the limit running and refuse the rest with
// TOO_MANY_SUBSCRIPTIONS; completing one makes room for another.
func TestWebSocketSubscriptionsPerConnection(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	s := edgeSettings(t, func(s *edge.Settings) { s.WebSocket.MaxSubscriptionsPerConnection = 3 })
	up := newUpstream(t)
	up.holdOpen = true
	e := startWith(t, up, newJWKS(t), withEdge(s, rdb, prefix))

	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialWS(t, e.url)
			if err := initWS(t, c, ""); err != nil {
				t.Errorf("init: %v", err)
				return
			}
			for i := range 10 {
				if err := subscribe(c, fmt.Sprint(i)); err != nil {
					t.Error(err)
					return
				}
			}
			running, refused := map[string]bool{}, map[string]bool{}
			for len(running)+len(refused) < 10 {
				var m wsMessage
				if err := c.ReadJSON(&m); err != nil {
					t.Errorf("read: %v (running %v, refused %v)", err, running, refused)
					return
				}
				switch m.Type {
				case "next":
					running[m.ID] = true
				case "error":
					var errs []struct {
						Extensions map[string]any `json:"extensions"`
					}
					_ = json.Unmarshal(m.Payload, &errs)
					if len(errs) != 1 || errs[0].Extensions["code"] != edge.CodeTooManySubscriptions {
						t.Errorf("error for %s: %s", m.ID, m.Payload)
					}
					refused[m.ID] = true
				}
			}
			if len(running) != 3 || len(refused) != 7 {
				t.Errorf("%d running, %d refused; want 3 and 7", len(running), len(refused))
				return
			}
			var done string
			for id := range running {
				done = id
				break
			}
			if err := c.WriteJSON(map[string]any{"id": done, "type": "complete"}); err != nil {
				t.Error(err)
				return
			}
			if err := subscribe(c, "again"); err != nil {
				t.Error(err)
				return
			}
			for {
				var m wsMessage
				if err := c.ReadJSON(&m); err != nil {
					t.Errorf("read: %v", err)
					return
				}
				if m.ID == "again" {
					if m.Type != "next" {
						t.Errorf("after a complete, a new subscription got %s %s", m.Type, m.Payload)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestWebSocketConnectionsPerSubject: one subject opening many connections at once, through two
// router replicas, gets exactly the limit acknowledged and the rest closed with 4429
// TOO_MANY_CONNECTIONS; closing one frees a slot; another subject is not affected.
func TestWebSocketConnectionsPerSubject(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	s := edgeSettings(t, func(s *edge.Settings) {
		s.WebSocket.MaxConnectionsPerSubject = 2
		s.WebSocket.MaxConnectionsPerIP = 0
	})
	up, keys := newUpstream(t), newJWKS(t)
	replicas := []*env{startWith(t, up, keys, withEdge(s, rdb, prefix)), startWith(t, up, keys, withEdge(s, rdb, prefix))}
	ana := "Bearer " + sign(t, keys.key, "test-key", patientClaims("ana"))

	type outcome struct {
		c   *websocket.Conn
		err error
	}
	results := make(chan outcome, 12)
	for i := range 12 {
		go func() {
			c := dialWS(t, replicas[i%2].url)
			results <- outcome{c, initWS(t, c, ana)}
		}()
	}
	var open []*websocket.Conn
	refused := 0
	for range 12 {
		r := <-results
		if r.err == nil {
			open = append(open, r.c)
			continue
		}
		code, reason := closeCode(r.err)
		if code != 4429 || !strings.HasPrefix(reason, edge.CodeTooManyConnections) {
			t.Errorf("refused connection: %v", r.err)
		}
		refused++
	}
	if len(open) != 2 || refused != 10 {
		t.Fatalf("%d connections acknowledged, %d refused; want 2 and 10", len(open), refused)
	}
	if err := initWS(t, dialWS(t, replicas[0].url), "Bearer "+sign(t, keys.key, "test-key", patientClaims("ben"))); err != nil {
		t.Errorf("another subject: %v", err)
	}
	_ = open[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := initWS(t, dialWS(t, replicas[1].url), ana)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after closing one connection, a new one is still refused: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWebSocketRefusals: an init token that does not verify closes with 4401 UNAUTHENTICATED; a
// message over the size limit closes with 1009.
func TestWebSocketRefusals(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	s := edgeSettings(t, func(s *edge.Settings) { s.WebSocket.MaxMessageBytes = 4096 })
	e := start(t, withEdge(s, rdb, prefix))

	err := initWS(t, dialWS(t, e.url), "Bearer not-a-token")
	if code, reason := closeCode(err); code != 4401 || !strings.HasPrefix(reason, edge.CodeUnauthenticated) {
		t.Errorf("bad init token: %v", err)
	}

	c := dialWS(t, e.url)
	if err := initWS(t, c, ""); err != nil {
		t.Fatal(err)
	}
	big := map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": "subscription { ticks }", "variables": map[string]any{"x": strings.Repeat("x", 5000)}}}
	if err := c.WriteJSON(big); err != nil {
		t.Fatal(err)
	}
	var m wsMessage
	err = c.ReadJSON(&m)
	if code, reason := closeCode(err); code != websocket.CloseMessageTooBig || !strings.HasPrefix(reason, edge.CodeMessageTooLarge) {
		t.Errorf("oversized message: %v (%+v)", err, m)
	}
}

// TestWebSocketSilentClientIsDropped: a client that answers no ping (vanished, half-open) is
// dropped after the idle timeout, and its upstream subscription ends; one that answers stays.
func TestWebSocketSilentClientIsDropped(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	s := edgeSettings(t, func(s *edge.Settings) {
		s.WebSocket.PingInterval = 200 * time.Millisecond
		s.WebSocket.IdleTimeout = 2 * time.Second // ten unanswered pings: a busy machine is not a vanished client
	})
	up := newUpstream(t)
	up.holdOpen = true
	e := startWith(t, up, newJWKS(t), withEdge(s, rdb, prefix))

	alive, silent := dialWS(t, e.url), dialWS(t, e.url)
	for _, c := range []*websocket.Conn{alive, silent} {
		if err := initWS(t, c, ""); err != nil {
			t.Fatal(err)
		}
		if err := subscribe(c, "1"); err != nil {
			t.Fatal(err)
		}
	}
	// The answering client reads all along (gorilla answers pings as it reads).
	aliveErr := make(chan error, 1)
	go func() {
		_ = alive.SetReadDeadline(time.Now().Add(30 * time.Second))
		for {
			var m wsMessage
			if err := alive.ReadJSON(&m); err != nil {
				aliveErr <- err
				return
			}
		}
	}()
	silent.SetPingHandler(func(string) error { return nil }) // reads, but never answers a ping
	_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	began := time.Now()
	for {
		var m wsMessage
		if err := silent.ReadJSON(&m); err != nil {
			if d := time.Since(began); d > 8*time.Second {
				t.Errorf("silent client dropped after %s", d)
			}
			break
		}
	}
	select {
	case err := <-aliveErr:
		t.Errorf("the answering client lost its connection: %v", err)
	case <-time.After(3 * time.Second): // past the idle timeout again
	}
	_ = alive.Close()
}

// TestWebSocketWithoutInitIsClosed: a client that sends no connection_init is closed with 4408
// after the init timeout (the router's own read deadline is an hour, ADR 0028); one that sent it
// in time stays.
func TestWebSocketWithoutInitIsClosed(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	s := edgeSettings(t, func(s *edge.Settings) { s.WebSocket.InitTimeout = 500 * time.Millisecond })
	up := newUpstream(t)
	up.holdOpen = true
	e := startWith(t, up, newJWKS(t), withEdge(s, rdb, prefix))

	inited, silent := dialWS(t, e.url), dialWS(t, e.url)
	if err := initWS(t, inited, ""); err != nil {
		t.Fatal(err)
	}
	_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m wsMessage
	err := silent.ReadJSON(&m)
	if code, _ := closeCode(err); code != 4408 {
		t.Errorf("a client without connection_init: %v, want close 4408", err)
	}
	if err := subscribe(inited, "1"); err != nil {
		t.Fatal(err)
	}
	_ = inited.SetReadDeadline(time.Now().Add(time.Second)) // past the init timeout again
	if err := inited.ReadJSON(&m); err != nil && !isTimeout(err) {
		t.Errorf("the client that sent connection_init lost its connection: %v", err)
	}
	_ = inited.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
