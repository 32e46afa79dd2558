package gqlscalar

// GraphQL's null at the edge: an optional argument arrives as a nil pointer,
// an empty optional field leaves as null.

// Deref is *p, or T's zero value for an absent (nil) argument.
func Deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Optional is s as a nullable field: null when s is empty.
func Optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
