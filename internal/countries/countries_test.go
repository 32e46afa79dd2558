package countries

import (
	"strings"
	"testing"
	"time"
)

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

func TestOverrideLimits(t *testing.T) {
	cat := MustDefault()
	if err := cat.OverrideLimits("registrationsPerAddressPerHour=500, liveHoldsPerPatient=3"); err != nil {
		t.Fatal(err)
	}
	for _, c := range cat.All() {
		if c.Limits.RegistrationsPerAddressPerHour != 500 || c.Limits.LiveHoldsPerPatient != 3 ||
			c.Limits.BookingsPerPatientPerPracticePerDay != DefaultLimits.BookingsPerPatientPerPracticePerDay {
			t.Fatalf("%s: %+v", c.Code, c.Limits)
		}
	}
	for _, bad := range []string{"nope=1", "liveHoldsPerPatient=0", "liveHoldsPerPatient"} {
		if err := cat.OverrideLimits(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

// TestNoShowPolicy: a country's policy from the catalogue, the default when absent, and a
// policy out of bounds refused with the field at fault.
func TestNoShowPolicy(t *testing.T) {
	cat := MustDefault()
	fr, _ := cat.Get("fr")
	de, _ := cat.Get("de")
	if fr.NoShowPolicy != (NoShowPolicy{Limit: 3, PeriodDays: 365, RestrictionDays: 90}) || de.NoShowPolicy != DefaultNoShowPolicy {
		t.Fatalf("fr %+v, de %+v", fr.NoShowPolicy, de.NoShowPolicy)
	}
	q, err := Parse([]byte(`countries:
  - {code: qq, name: Q, timeZone: UTC, locale: en-GB, noShowPolicy: {limit: 2, periodDays: 30, restrictionDays: 7}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := q.Get("qq"); c.NoShowPolicy.Period() != 30*24*time.Hour || c.NoShowPolicy.Restriction() != 7*24*time.Hour || c.NoShowPolicy.Limit != 2 {
		t.Fatalf("qq %+v", c.NoShowPolicy)
	}
	for bad, field := range map[string]string{
		`{limit: 2, periodDays: 0, restrictionDays: 7}`:   "periodDays",
		`{limit: 21, periodDays: 30, restrictionDays: 7}`: "limit",
		`{limit: 0, periodDays: 30, restrictionDays: 7}`:  "limit",
		`{limit: 2, periodDays: 30, restrictionDays: 0}`:  "restrictionDays",
	} {
		_, err := Parse([]byte(`countries:
  - {code: qq, name: Q, timeZone: UTC, locale: en-GB, noShowPolicy: ` + bad + `}`))
		if err == nil || !strings.Contains(err.Error(), "noShowPolicy."+field) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestOfferWindow(t *testing.T) {
	c, err := Parse([]byte(`countries:
  - {code: qq, name: Q, timeZone: UTC, locale: en-GB, offerWindowMinutes: 30}
  - {code: zz, name: Z, timeZone: UTC, locale: en-GB}`))
	if err != nil {
		t.Fatal(err)
	}
	q, _ := c.Get("qq")
	z, _ := c.Get("zz")
	if q.OfferWindow().Minutes() != 30 || z.OfferWindow() != DefaultOfferWindow || DefaultOfferWindow.Minutes() != 15 {
		t.Fatalf("offer windows: qq %s, zz %s", q.OfferWindow(), z.OfferWindow())
	}
	if _, err := Parse([]byte(`countries:
  - {code: qq, name: Q, timeZone: UTC, locale: en-GB, offerWindowMinutes: -5}`)); err == nil {
		t.Fatal("a negative offer window is accepted")
	}
}
