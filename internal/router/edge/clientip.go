package edge

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the addresses whose X-Forwarded-For the edge believes.
type Proxies struct{ nets []netip.Prefix }

// ParseProxies reads CIDRs ("10.0.0.0/8") and single addresses ("192.0.2.7").
func ParseProxies(list []string) (Proxies, error) {
	var p Proxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if pfx, err := netip.ParsePrefix(s); err == nil {
			p.nets = append(p.nets, pfx.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return Proxies{}, fmt.Errorf("edge settings: trusted proxy %q is neither an address nor a CIDR", s)
		}
		a = a.Unmap()
		p.nets = append(p.nets, netip.PrefixFrom(a, a.BitLen()))
	}
	return p, nil
}

func (p Proxies) trusted(a netip.Addr) bool {
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr returns the address a request comes from: its peer, unless the peer is a trusted
// proxy, in which case X-Forwarded-For is walked from the nearest hop outwards until an address
// that is not a trusted proxy (or the last parsable one). An unparsable hop ends the walk: what
// lies beyond it cannot be believed. The zero Addr means the peer itself is unparsable.
func (p Proxies) ClientAddr(remoteAddr string, forwardedFor []string) netip.Addr {
	client := parseHost(remoteAddr)
	if !client.IsValid() || len(p.nets) == 0 {
		return client
	}
	var hops []string
	for _, h := range forwardedFor {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0 && p.trusted(client); i-- {
		next := parseHost(strings.TrimSpace(hops[i]))
		if !next.IsValid() {
			break
		}
		client = next
	}
	return client
}

// parseHost reads "192.0.2.1", "192.0.2.1:443", "[2001:db8::1]:443" or "2001:db8::1".
func parseHost(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap().WithZone("")
		}
	}
	return netip.Addr{}
}

// AddrKey is the budget key of a client address: the address itself for IPv4, its /64 for IPv6
// (one subscriber gets a whole /64 and could otherwise rotate through it).
func AddrKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

type clientKey struct{}

// client is what the edge learned about a request before the router saw it.
type client struct {
	addr netip.Addr
	key  string // AddrKey(addr)
}

func withClient(ctx context.Context, c client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

func clientFrom(r *http.Request) client {
	if c, ok := r.Context().Value(clientKey{}).(client); ok {
		return c
	}
	a := parseHost(r.RemoteAddr)
	return client{addr: a, key: AddrKey(a)}
}
