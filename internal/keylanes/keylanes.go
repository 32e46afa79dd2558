// Package keylanes runs a batch's items in lanes by key: the items of one key one after the
// other, in batch order, and up to a limit of keys at once. The Kafka consumers apply a
// partition's records this way (ADR 0029) and the notification sender its messages (ADR 0035).
package keylanes

import "sync"

// Run calls do for each of n items, the items of a key (key(i)) one after the other in index
// order, in up to limit lanes at once; a lane stops at the first item whose do returns false,
// leaving its key's later items undone. With limit 1 every item is in one lane. Run returns when
// every lane has.
func Run(n, limit int, key func(i int) string, do func(i int) bool) {
	if limit <= 1 || n <= 1 {
		for i := range n {
			if !do(i) {
				return
			}
		}
		return
	}
	var keys []string
	lanes := map[string][]int{}
	for i := range n {
		k := key(i)
		if _, ok := lanes[k]; !ok {
			keys = append(keys, k)
		}
		lanes[k] = append(lanes[k], i)
	}
	free := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for _, k := range keys {
		free <- struct{}{}
		wg.Go(func() {
			defer func() { <-free }()
			for _, i := range lanes[k] {
				if !do(i) {
					return
				}
			}
		})
	}
	wg.Wait()
}
