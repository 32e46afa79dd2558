package uid

import "testing"

func TestValid(t *testing.T) {
	id := New()
	if !Valid(id) || Valid("x") || Valid("{"+id+"}") || Valid("") {
		t.Fatal("Valid")
	}
	if got := Filter([]string{id, "nope", id}); len(got) != 2 {
		t.Fatalf("Filter: %v", got)
	}
}
