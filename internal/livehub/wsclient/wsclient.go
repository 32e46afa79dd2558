// Package wsclient is a small graphql-transport-ws client for tests,
// benchmarks and tools: one WebSocket connection carrying any number of
// subscriptions, each delivering its messages on a channel.
package wsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// Protocol is the WebSocket subprotocol spoken.
const Protocol = "graphql-transport-ws"

// Message is one event of a subscription: a result (Data, Errors), or its
// end (Done; Errors set when the server sent "error").
type Message struct {
	Data     json.RawMessage `json:"data,omitempty"`
	Errors   []Error         `json:"errors,omitempty"`
	Done     bool            `json:"-"`
	Received time.Time       `json:"-"`
}

// Error is a GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// Code is the error's extensions.code.
func (e Error) Code() string { s, _ := e.Extensions["code"].(string); return s }

type frame struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Conn is one connection.
type Conn struct {
	ws     *websocket.Conn
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	subs   map[string]*Sub
	nextID int
	err    error
}

// Sub is one subscription. C is closed once the server completed it or the
// connection ended (not after Stop: stop reading it then).
type Sub struct {
	ID      string
	C       <-chan Message
	c       chan Message
	stopped chan struct{}
	conn    *Conn
}

// Dial connects and completes the connection_init handshake with payload
// (e.g. {"Authorization": "Bearer …"}; nil for none).
func Dial(ctx context.Context, url string, payload map[string]any) (*Conn, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{Protocol}})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(16 << 20)
	if payload == nil {
		payload = map[string]any{}
	}
	p, _ := json.Marshal(payload)
	if err := wsjson.Write(ctx, ws, frame{Type: "connection_init", Payload: p}); err != nil {
		ws.CloseNow()
		return nil, err
	}
	for {
		var f frame
		if err := wsjson.Read(ctx, ws, &f); err != nil {
			ws.CloseNow()
			return nil, fmt.Errorf("connection_init: %w", err)
		}
		if f.Type == "connection_ack" {
			break
		}
		if f.Type == "ping" {
			_ = wsjson.Write(ctx, ws, frame{Type: "pong"})
			continue
		}
		ws.CloseNow()
		return nil, fmt.Errorf("connection_init: got %q", f.Type)
	}
	rctx, cancel := context.WithCancel(context.Background())
	c := &Conn{ws: ws, cancel: cancel, done: make(chan struct{}), subs: map[string]*Sub{}}
	go c.read(rctx)
	return c, nil
}

// Subscribe starts a subscription; buffer bounds the messages queued for
// the reader of C (the connection stops reading while it is full).
func (c *Conn) Subscribe(ctx context.Context, query string, vars map[string]any, buffer int) (*Sub, error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.nextID++
	id := strconv.Itoa(c.nextID)
	ch := make(chan Message, max(buffer, 1))
	s := &Sub{ID: id, C: ch, c: ch, stopped: make(chan struct{}), conn: c}
	c.subs[id] = s
	c.mu.Unlock()
	p, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err := wsjson.Write(ctx, c.ws, frame{ID: id, Type: "subscribe", Payload: p}); err != nil {
		c.drop(id)
		return nil, err
	}
	return s, nil
}

// Stop completes the subscription (sends "complete").
func (s *Sub) Stop(ctx context.Context) error {
	if !s.conn.drop(s.ID) {
		return nil
	}
	return wsjson.Write(ctx, s.conn.ws, frame{ID: s.ID, Type: "complete"})
}

func (c *Conn) drop(id string) bool {
	c.mu.Lock()
	s, ok := c.subs[id]
	delete(c.subs, id)
	c.mu.Unlock()
	if ok {
		close(s.stopped)
	}
	return ok
}

// Close closes the connection; every subscription's C is closed.
func (c *Conn) Close() error {
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	c.cancel()
	<-c.done
	return err
}

// Err is why the connection ended (nil while it is open).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Conn) read(ctx context.Context) {
	defer close(c.done)
	var err error
	for {
		var f frame
		if err = wsjson.Read(ctx, c.ws, &f); err != nil {
			break
		}
		now := time.Now()
		switch f.Type {
		case "ping":
			_ = wsjson.Write(ctx, c.ws, frame{Type: "pong"})
		case "next":
			c.mu.Lock()
			s := c.subs[f.ID]
			c.mu.Unlock()
			if s == nil {
				continue
			}
			var m Message
			if err := json.Unmarshal(f.Payload, &m); err != nil {
				m.Errors = []Error{{Message: "undecodable payload: " + err.Error()}}
			}
			m.Received = now
			select {
			case s.c <- m:
			case <-s.stopped:
			case <-ctx.Done():
			}
		case "error", "complete":
			c.mu.Lock()
			s := c.subs[f.ID]
			delete(c.subs, f.ID)
			c.mu.Unlock()
			if s == nil {
				continue
			}
			m := Message{Done: true, Received: now}
			if f.Type == "error" {
				_ = json.Unmarshal(f.Payload, &m.Errors)
			}
			select {
			case s.c <- m:
			case <-ctx.Done():
			}
			close(s.c)
		}
	}
	if err == nil {
		err = errors.New("closed")
	}
	c.mu.Lock()
	c.err = err
	subs := c.subs
	c.subs = map[string]*Sub{}
	c.mu.Unlock()
	for _, s := range subs {
		close(s.c)
	}
	c.ws.CloseNow()
}
