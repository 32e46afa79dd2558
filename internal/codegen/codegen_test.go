package codegen_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedCodeIsCurrent regenerates everything (gqlgen for every subgraph
// and the composed router configuration) in a copy of the committed tree and
// fails when anything differs from what is committed: `make generate` was not
// run after a schema change.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("regenerates the whole tree")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	tmp := t.TempDir()
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f == "" {
			continue
		}
		src := filepath.Join(root, f)
		b, err := os.ReadFile(src)
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(tmp, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	cmd := exec.Command("go", "run", "./cmd/generate")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate: %v\n%s", err, out)
	}
	tracked := map[string]bool{}
	for _, f := range files {
		tracked[f] = true
		want, _ := os.ReadFile(filepath.Join(root, f))
		got, err := os.ReadFile(filepath.Join(tmp, f))
		if err != nil {
			t.Errorf("%s: removed by generation", f)
			continue
		}
		if !bytes.Equal(want, got) {
			t.Errorf("%s is stale: run `make generate` and commit the result", f)
		}
	}
	_ = filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tmp, p)
		if !tracked[rel] && (strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, ".json")) {
			t.Errorf("%s: generated but not committed", rel)
		}
		return nil
	})
}
