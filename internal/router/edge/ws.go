package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
)

// WebSocket close codes the edge uses (graphql-transport-ws leaves 4000–4999 to applications;
// 4401 and 4429 mean what that protocol means by them). The close reason starts with the code
// name (TOO_MANY_CONNECTIONS, …), which graphql-ws clients hand to the application.
const (
	closeUnauthenticated  ws.StatusCode = 4401
	closeTooManyRequests  ws.StatusCode = 4429
	closeMessageTooLarge                = ws.StatusMessageTooBig // 1009
	closeProtocolError                  = ws.StatusProtocolError // 1002
	maxInspectedServerMsg               = 64 << 10
)

// wsLimits guards the WebSocket connections of one router process.
type wsLimits struct {
	s        WebSocketLimits
	slots    *connSlots // nil: connections are not counted
	verifier auth.Verifier
	log      *slog.Logger
	instance string
	seq      atomic.Uint64
	ctx      context.Context
	cancel   context.CancelFunc
}

func newWSLimits(s WebSocketLimits, rdb redis.UniversalClient, prefix string, v auth.Verifier, log *slog.Logger) *wsLimits {
	var id [6]byte
	_, _ = rand.Read(id[:])
	ctx, cancel := context.WithCancel(context.Background())
	l := &wsLimits{s: s, verifier: v, log: log, instance: hex.EncodeToString(id[:]), ctx: ctx, cancel: cancel}
	if rdb != nil && (s.MaxConnectionsPerSubject > 0 || s.MaxConnectionsPerIP > 0) {
		l.slots = &connSlots{rdb: rdb, prefix: prefix + "conns:", lease: s.ConnectionLease, log: log}
	}
	return l
}

func (l *wsLimits) close() { l.cancel() }

// guard wraps the hijacked connection of a WebSocket upgrade. Bytes the HTTP server read ahead
// are delivered first.
func (l *wsLimits) guard(conn net.Conn, rw *bufio.ReadWriter, r *http.Request, c client) net.Conn {
	g := &guardedConn{
		Conn: conn, l: l, c: c,
		upgradeAuth: r.Header.Get("Authorization"),
		legacy:      negotiatedLegacy(r.Header.Values("Sec-WebSocket-Protocol")),
		subs:        map[string]struct{}{},
		done:        make(chan struct{}),
		member:      l.instance + ":" + strconv.FormatUint(l.seq.Add(1), 36),
	}
	if rw != nil && rw.Reader != nil && rw.Reader.Buffered() > 0 {
		g.in, _ = rw.Reader.Peek(rw.Reader.Buffered())
		g.in = bytes.Clone(g.in)
		_, _ = rw.Reader.Discard(len(g.in))
	}
	g.heard()
	if l.s.PingInterval > 0 || l.s.IdleTimeout > 0 || l.s.InitTimeout > 0 || l.slots != nil {
		go g.keepalive()
	}
	return g
}

// negotiatedLegacy reports whether the router will speak the legacy subscriptions-transport-ws
// protocol ("graphql-ws"): it picks the first of the offered subprotocols it knows.
func negotiatedLegacy(offered []string) bool {
	for _, line := range offered {
		for _, p := range strings.Split(line, ",") {
			switch strings.TrimSpace(p) {
			case "graphql-transport-ws":
				return false
			case "graphql-ws":
				return true
			}
		}
	}
	return false
}

// guardedConn sits between a WebSocket client and the router. It reads the client's frames
// ahead of the router, holds back each message until it is whole, and looks at the
// graphql-transport-ws (or legacy graphql-ws) messages: connection_init (the caller's token and
// connection slot), subscribe (the subscriptions-per-connection limit), complete. On the way out
// it notes the subscriptions the router ends. What it refuses never reaches the router; its own
// frames (errors, pings, close) go out between the router's frames.
type guardedConn struct {
	net.Conn
	l           *wsLimits
	c           client
	upgradeAuth string
	legacy      bool
	member      string // this connection's member in the Redis slot set

	// Read side: only the router's reading goroutine.
	in      []byte   // raw client bytes not yet framed
	out     []byte   // bytes for the router's reader
	held    [][]byte // raw frames of a fragmented message being held back
	msg     []byte   // its unmasked payload so far
	msgOp   ws.OpCode
	readErr error // once set, every Read returns it

	mu      sync.Mutex
	subs    map[string]struct{} // live subscription ids
	slotKey string              // the slot set this connection holds a place in ("" for none)

	lastHeard atomic.Int64 // unix nanos of the last frame from the client
	inited    atomic.Bool  // a connection_init arrived (set by the reader, read by the keepalive too)

	wmu   sync.Mutex
	scan  frameScanner // the router's outgoing frames
	queue []queued     // the edge's frames waiting for a frame boundary
	shut  bool         // the edge closed the connection: the router's writes are dropped

	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

type queued struct {
	frame   []byte
	closing bool
}

func (g *guardedConn) heard() { g.lastHeard.Store(time.Now().UnixNano()) }

// Read gives the router the client's frames that passed.
func (g *guardedConn) Read(p []byte) (int, error) {
	for len(g.out) == 0 {
		if g.readErr != nil {
			return 0, g.readErr
		}
		if err := g.nextFrame(); err != nil {
			return 0, err
		}
	}
	n := copy(p, g.out)
	g.out = g.out[n:]
	return n, nil
}

// nextFrame frames the next client frame from g.in, reading more as needed. A read error
// (a deadline, typically) leaves the partial frame in g.in for the next call.
func (g *guardedConn) nextFrame() error {
	for {
		br := bytes.NewReader(g.in)
		h, err := ws.ReadHeader(br)
		if err == nil {
			hdrLen := len(g.in) - br.Len()
			if max := g.l.s.MaxMessageBytes; max > 0 && h.Length > int64(max) {
				g.refuse(closeMessageTooLarge, CodeMessageTooLarge+": a message is limited to "+strconv.Itoa(max)+" bytes")
				return nil
			}
			if total := int64(hdrLen) + h.Length; int64(len(g.in)) >= total {
				raw := g.in[:total:total]
				g.in = g.in[total:]
				payload := bytes.Clone(raw[hdrLen:])
				if h.Masked {
					ws.Cipher(payload, h.Mask, 0)
				}
				g.heard()
				g.handle(h, raw, payload)
				return nil
			}
		} else if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			g.refuse(closeProtocolError, "malformed frame")
			return nil
		}
		if err := g.fill(); err != nil {
			return err
		}
	}
}

func (g *guardedConn) fill() error {
	var buf [4096]byte
	n, err := g.Conn.Read(buf[:])
	g.in = append(g.in, buf[:n]...)
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (g *guardedConn) handle(h ws.Header, raw, payload []byte) {
	switch {
	case h.OpCode.IsControl():
		g.out = append(g.out, raw...)
	case h.OpCode == ws.OpContinuation:
		if g.held == nil { // nothing to continue: the router refuses it
			g.out = append(g.out, raw...)
			return
		}
		g.held = append(g.held, raw)
		g.msg = append(g.msg, payload...)
		if max := g.l.s.MaxMessageBytes; max > 0 && len(g.msg) > max {
			g.refuse(closeMessageTooLarge, CodeMessageTooLarge+": a message is limited to "+strconv.Itoa(max)+" bytes")
			return
		}
		if h.Fin {
			held, msg, op := g.held, g.msg, g.msgOp
			g.held, g.msg = nil, nil
			if op != ws.OpText || g.admit(msg) {
				for _, f := range held {
					g.out = append(g.out, f...)
				}
			}
		}
	case !h.Fin:
		g.held, g.msg, g.msgOp = [][]byte{raw}, payload, h.OpCode
	case h.OpCode == ws.OpText:
		if g.admit(payload) {
			g.out = append(g.out, raw...)
		}
	default:
		g.out = append(g.out, raw...)
	}
}

// admit decides on one whole text message from the client: true passes it to the router.
func (g *guardedConn) admit(text []byte) bool {
	var m struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	if json.Unmarshal(text, &m) != nil {
		return true // the router answers malformed messages itself
	}
	switch m.Type {
	case "connection_init":
		if g.inited.Load() {
			return true // the router refuses a second one
		}
		g.inited.Store(true)
		return g.connect(m.Payload)
	case "subscribe", "start":
		if m.ID == "" {
			return true
		}
		g.mu.Lock()
		_, dup := g.subs[m.ID]
		max := g.l.s.MaxSubscriptionsPerConnection
		if !dup && max > 0 && len(g.subs) >= max {
			g.mu.Unlock()
			g.sendError(m.ID, gqlError{
				Message:    "too many subscriptions on this connection: at most " + strconv.Itoa(max) + "; complete one first",
				Extensions: map[string]any{"code": CodeTooManySubscriptions, "limit": max},
			})
			return false
		}
		g.subs[m.ID] = struct{}{}
		g.mu.Unlock()
	case "complete", "stop":
		g.mu.Lock()
		delete(g.subs, m.ID)
		g.mu.Unlock()
	}
	return true
}

// connect admits a connection_init: a token, if any, must verify (else 4401), and the caller
// must have a connection slot left (else 4429 TOO_MANY_CONNECTIONS).
func (g *guardedConn) connect(payload json.RawMessage) bool {
	token := initToken(payload)
	if token == "" {
		token = g.upgradeAuth
	}
	key, limit := "ip:"+g.c.key, g.l.s.MaxConnectionsPerIP
	if token != "" && g.l.verifier != nil {
		if _, _, hasScheme := strings.Cut(strings.TrimSpace(token), " "); !hasScheme {
			token = "Bearer " + token
		}
		scheme, raw, _ := strings.Cut(strings.TrimSpace(token), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			g.refuse(closeUnauthenticated, CodeUnauthenticated+": authorization must be a bearer token")
			return false
		}
		ctx, cancel := context.WithTimeout(g.l.ctx, 5*time.Second)
		p, err := g.l.verifier.Verify(ctx, strings.TrimSpace(raw))
		cancel()
		if err != nil {
			msg := "the bearer token is not valid"
			if e, ok := apperr.As(err); ok && e.Message != "" {
				msg = e.Message
			}
			g.refuse(closeUnauthenticated, CodeUnauthenticated+": "+msg)
			return false
		}
		key, limit = "sub:"+p.Account, g.l.s.MaxConnectionsPerSubject
	}
	if limit <= 0 || g.l.slots == nil {
		return true
	}
	if !g.l.slots.acquire(g.l.ctx, key, g.member, limit) {
		g.refuse(closeTooManyRequests, CodeTooManyConnections+": at most "+strconv.Itoa(limit)+" open connections")
		return false
	}
	g.mu.Lock()
	g.slotKey = key
	g.mu.Unlock()
	return true
}

// initToken is the Authorization (or authorization) string of a connection_init payload.
func initToken(payload json.RawMessage) string {
	var p map[string]any
	if json.Unmarshal(payload, &p) != nil {
		return ""
	}
	for _, k := range []string{"Authorization", "authorization"} {
		if s, ok := p[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// sendError ends one operation with an error message in the negotiated protocol's shape.
func (g *guardedConn) sendError(id string, e gqlError) {
	var payload any = []gqlError{e}
	if g.legacy {
		payload = e
	}
	msg, _ := json.Marshal(map[string]any{"id": id, "type": "error", "payload": payload})
	g.inject(ws.MustCompileFrame(ws.NewTextFrame(msg)), false)
}

// refuse closes the connection with code and reason; the router reads the end of the stream.
func (g *guardedConn) refuse(code ws.StatusCode, reason string) {
	if len(reason) > 123 { // a close frame's reason is at most 123 bytes
		reason = reason[:123]
	}
	g.inject(ws.MustCompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(code, reason))), true)
	g.readErr = io.EOF
	g.in, g.held, g.msg = nil, nil, nil
}

// inject writes one of the edge's frames now if the router is between frames, else as soon as it
// is.
func (g *guardedConn) inject(frame []byte, closing bool) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if g.shut {
		return
	}
	if g.scan.atBoundary() {
		g.writeOwn(queued{frame: frame, closing: closing})
		return
	}
	g.queue = append(g.queue, queued{frame: frame, closing: closing})
}

// writeOwn writes one of the edge's frames; wmu is held.
func (g *guardedConn) writeOwn(q queued) {
	if g.shut {
		return
	}
	_ = g.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = g.Conn.Write(q.frame)
	_ = g.Conn.SetWriteDeadline(time.Time{})
	if q.closing {
		g.shut = true
		// The router learns from its read side; the socket goes once it has let go or soon after.
		time.AfterFunc(2*time.Second, func() { _ = g.Close() })
	}
}

// Write passes the router's frames on and notes the subscriptions it ends.
func (g *guardedConn) Write(p []byte) (int, error) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if g.shut {
		return len(p), nil
	}
	n, err := g.Conn.Write(p)
	g.scan.feed(p[:n], g.serverMessage)
	for len(g.queue) > 0 && g.scan.atBoundary() && !g.shut {
		q := g.queue[0]
		g.queue = g.queue[1:]
		g.writeOwn(q)
	}
	return n, err
}

func (g *guardedConn) serverMessage(text []byte) {
	var m struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	if json.Unmarshal(text, &m) != nil || m.ID == "" {
		return
	}
	if m.Type == "complete" || m.Type == "error" {
		g.mu.Lock()
		delete(g.subs, m.ID)
		g.mu.Unlock()
	}
}

// keepalive pings a silent client, drops one silent for too long, and renews the connection slot.
func (g *guardedConn) keepalive() {
	s := g.l.s
	tick := time.Second
	for _, d := range []time.Duration{s.PingInterval / 2, s.IdleTimeout / 4, s.InitTimeout / 4, s.ConnectionLease / 3} {
		if d > 0 && d < tick {
			tick = d
		}
	}
	tick = max(tick, 20*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	opened := time.Now()
	lastRenew, lastPing := opened, time.Time{}
	for {
		select {
		case <-g.done:
			return
		case <-g.l.ctx.Done():
			return
		case now := <-t.C:
			if s.InitTimeout > 0 && !g.inited.Load() && now.Sub(opened) >= s.InitTimeout {
				// graphql-transport-ws: no connection_init in time.
				g.inject(ws.MustCompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(4408, "Connection initialisation timeout"))), true)
				_ = g.Close()
				return
			}
			silent := now.Sub(time.Unix(0, g.lastHeard.Load()))
			if s.IdleTimeout > 0 && silent >= s.IdleTimeout {
				_ = g.Close() // the router's read fails and it lets go
				return
			}
			if s.PingInterval > 0 && silent >= s.PingInterval && now.Sub(lastPing) >= s.PingInterval {
				g.inject(ws.MustCompileFrame(ws.NewPingFrame(nil)), false)
				lastPing = now
			}
			if g.l.slots != nil && now.Sub(lastRenew) >= s.ConnectionLease/3 {
				g.mu.Lock()
				key := g.slotKey
				g.mu.Unlock()
				if key != "" {
					g.l.slots.renew(g.l.ctx, key, g.member)
				}
				lastRenew = now
			}
		}
	}
}

// Close closes the client connection (once) and gives its slot back.
func (g *guardedConn) Close() error {
	g.closeOnce.Do(func() {
		close(g.done)
		g.wmu.Lock()
		for len(g.queue) > 0 && g.scan.atBoundary() && !g.shut {
			q := g.queue[0]
			g.queue = g.queue[1:]
			g.writeOwn(q)
		}
		g.shut = true
		g.wmu.Unlock()
		g.closeErr = g.Conn.Close()
		g.mu.Lock()
		key := g.slotKey
		g.slotKey = ""
		g.mu.Unlock()
		if key != "" && g.l.slots != nil {
			g.l.slots.release(key, g.member)
		}
	})
	return g.closeErr
}

// subscriptions is the number of live subscriptions on the connection (tests).
func (g *guardedConn) subscriptions() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.subs)
}

// frameScanner follows the frames of a byte stream written in arbitrary pieces, and hands each
// whole text message (up to maxInspectedServerMsg) to a callback.
type frameScanner struct {
	hdr       []byte // header bytes of the current frame, while incomplete
	remaining int64  // payload bytes of the current frame still to come
	mask      [4]byte
	masked    bool
	offset    int
	fin       bool
	op        ws.OpCode
	msgOp     ws.OpCode // opcode of the message the current data frame belongs to
	msg       []byte
	overflow  bool
}

func (s *frameScanner) atBoundary() bool { return len(s.hdr) == 0 && s.remaining == 0 }

func (s *frameScanner) feed(p []byte, onText func([]byte)) {
	for len(p) > 0 {
		if s.remaining == 0 {
			s.hdr = append(s.hdr, p[0])
			p = p[1:]
			need := headerSize(s.hdr)
			if need < 0 || len(s.hdr) < need {
				continue
			}
			h, err := ws.ReadHeader(bytes.NewReader(s.hdr))
			s.hdr = s.hdr[:0]
			if err != nil { // not a frame stream after all: stop inspecting
				s.remaining = 1 << 62
				continue
			}
			s.fin, s.op, s.remaining, s.mask, s.masked, s.offset = h.Fin, h.OpCode, h.Length, h.Mask, h.Masked, 0
			if !s.op.IsControl() && s.op != ws.OpContinuation {
				s.msgOp, s.msg, s.overflow = s.op, s.msg[:0], false
			}
			if s.remaining == 0 {
				s.endFrame(onText)
			}
			continue
		}
		n := int64(len(p))
		if n > s.remaining {
			n = s.remaining
		}
		if !s.op.IsControl() && s.msgOp == ws.OpText && !s.overflow {
			if len(s.msg)+int(n) > maxInspectedServerMsg {
				s.overflow = true
			} else {
				start := len(s.msg)
				s.msg = append(s.msg, p[:n]...)
				if s.masked {
					ws.Cipher(s.msg[start:], s.mask, s.offset)
				}
			}
		}
		s.offset += int(n)
		s.remaining -= n
		p = p[n:]
		if s.remaining == 0 {
			s.endFrame(onText)
		}
	}
}

func (s *frameScanner) endFrame(onText func([]byte)) {
	if s.op.IsControl() || !s.fin {
		return
	}
	if s.msgOp == ws.OpText && !s.overflow {
		onText(s.msg)
	}
	s.msg = s.msg[:0]
}

// headerSize is the length of the frame header that starts with b, or -1 if b is too short to
// tell.
func headerSize(b []byte) int {
	if len(b) < 2 {
		return -1
	}
	n := 2
	switch b[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b[1]&0x80 != 0 {
		n += 4
	}
	return n
}

// connSlots counts each caller's open WebSocket connections in Redis, across replicas: a sorted
// set per caller whose members are connections and whose scores are lease expiries, renewed by
// the connection's replica. A replica that dies frees its slots when their leases run out.
type connSlots struct {
	rdb    redis.UniversalClient
	prefix string
	lease  time.Duration
	log    *slog.Logger

	lastComplaint atomic.Int64
}

var acquireSlot = redis.NewScript(`
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[3]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
`)

var renewSlot = redis.NewScript(`
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// acquire takes a slot for member under key if fewer than limit are live. It answers true when
// Redis cannot answer (fail open, logged).
func (s *connSlots) acquire(ctx context.Context, key, member string, limit int) bool {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	n, err := acquireSlot.Run(ctx, s.rdb, []string{s.prefix + key}, s.lease.Milliseconds(), limit, member).Int()
	if err != nil {
		s.complain(err)
		return true
	}
	return n == 1
}

func (s *connSlots) renew(ctx context.Context, key, member string) {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if err := renewSlot.Run(ctx, s.rdb, []string{s.prefix + key}, s.lease.Milliseconds(), member).Err(); err != nil {
		s.complain(err)
	}
}

func (s *connSlots) release(key, member string) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := s.rdb.ZRem(ctx, s.prefix+key, member).Err(); err != nil {
		s.complain(err)
	}
}

func (s *connSlots) complain(err error) {
	now := time.Now().UnixNano()
	if last := s.lastComplaint.Load(); now-last > int64(10*time.Second) && s.lastComplaint.CompareAndSwap(last, now) {
		s.log.Warn("edge: WebSocket connection slots unavailable; letting connections through", "error", err)
	}
}
