// Package system runs Careslot in its deployed shape, as separate
// processes on this machine, and proves it keeps its promises while parts of
// it die (issue 9; design §12):
//
//   - a Kafka broker of three nodes (`careslot broker --nodes 3`);
//   - a Redis Cluster of three masters and three replicas (testenv);
//   - PostgreSQL with one database and role per service (`careslot migrate
//     -roles` first): each service connects as its own role, to its own
//     database only; search and availability get no database at all;
//   - every service as `careslot serve <service>` in its own process, two
//     replicas each of booking, availability and search;
//   - per service, a readiness-aware round-robin proxy (Proxy) standing in
//     for a Kubernetes Service: it polls each replica's /readyz and sends
//     requests and WebSockets only to ready ones;
//   - the router as its own process (`careslot router`), one URL per
//     subgraph: the proxies.
//
// TestSystem starts it all from one freshly built binary, drives the client
// operations through the router, then injects faults one after the other,
// each under a storm of 64 booking clients, and checks the invariants after
// each. It logs the figures (start-up time, bookings/s, requests refused and
// time to converge per fault). Run it alone with `make test-system`.
package system
