package business_test

import (
	"testing"
	"time"

	"github.com/careslot/careslot/subgraphs/notification/business"
)

func TestFormatWhenAcrossDST(t *testing.T) {
	t.Parallel()
	paris, _ := time.LoadLocation("Europe/Paris")
	// 29 March 2026: clocks go forward in Paris; 08:30 UTC is 10:30 local.
	if got := business.FormatWhen("fr-FR", time.Date(2026, 3, 29, 8, 30, 0, 0, time.UTC), paris); got != "dimanche 29 mars 2026 à 10:30" {
		t.Errorf("got %q", got)
	}
	if got := business.FormatWhen("it_IT", time.Date(2026, 3, 28, 8, 30, 0, 0, time.UTC), paris); got != "sabato 28 marzo 2026 alle 09:30" {
		t.Errorf("got %q", got)
	}
	if business.Language("de-AT") != "de" || business.Language("nl-NL") != "en" || business.Language("") != "en" {
		t.Error("language fallbacks")
	}
}
