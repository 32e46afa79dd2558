package countries

import "testing"

func TestLimits(t *testing.T) {
	cat := MustDefault()
	fr, _ := cat.Get("fr")
	de, _ := cat.Get("de")
	if fr.Limits != DefaultLimits || de.Limits != DefaultLimits {
		t.Fatalf("default limits: fr %+v, de %+v", fr.Limits, de.Limits)
	}
	c, err := Parse([]byte(`countries:
  - {code: qq, name: Q, timeZone: UTC, locale: en-GB, limits: {liveHoldsPerPatient: 5}}`))
	if err != nil {
		t.Fatal(err)
	}
	q, _ := c.Get("qq")
	if q.Limits.LiveHoldsPerPatient != 5 || q.Limits.BookingsPerPatientPerPracticePerDay != DefaultLimits.BookingsPerPatientPerPracticePerDay {
		t.Fatalf("per-country limits: %+v", q.Limits)
	}
	if _, err := Parse([]byte(`countries:
  - {code: qq, name: Q, timeZone: UTC, locale: en-GB, limits: {registrationsPerAddressPerHour: -1}}`)); err == nil {
		t.Fatal("a negative limit is accepted")
	}
}
