package auth

import (
	"context"
	"net"
	"net/http"
	"net/netip"
)

// ClientAddrHeader carries the client's address from the router to the
// subgraphs: the edge sets it to the address it found (X-Forwarded-For
// believed from trusted proxies only) after deleting whatever the client
// sent, and the router propagates it. A subgraph is reached by the router
// alone (its network policy), so it takes the header as the router's word.
const ClientAddrHeader = "X-Real-IP"

type clientAddrKey struct{}

// WithClientAddr returns r's context carrying the client's address: the
// router's header, else the peer's.
func WithClientAddr(r *http.Request) context.Context {
	a, err := netip.ParseAddr(r.Header.Get(ClientAddrHeader))
	if err != nil {
		host, _, splitErr := net.SplitHostPort(r.RemoteAddr)
		if splitErr != nil {
			host = r.RemoteAddr
		}
		a, _ = netip.ParseAddr(host)
	}
	return ContextWithClientAddr(r.Context(), a)
}

// ContextWithClientAddr returns ctx carrying the client's address a.
func ContextWithClientAddr(ctx context.Context, a netip.Addr) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, a.Unmap())
}

// ClientAddrKey is the client's address as domain limits count it: the
// address for IPv4, its /64 for IPv6 (one subscriber gets a whole /64),
// "unknown" when there is none.
func ClientAddrKey(ctx context.Context) string {
	a, _ := ctx.Value(clientAddrKey{}).(netip.Addr)
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is6():
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}
