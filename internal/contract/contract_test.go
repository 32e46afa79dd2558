package contract

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestClientCopyIsCurrent: contract/client is the clients' contract as the
// product team keeps it; when this checkout has the original beside it, the
// copy the tests run must be the same, file for file.
func TestClientCopyIsCurrent(t *testing.T) {
	root := filepath.Join("..", "..")
	shared := SharedDir(root)
	if shared == "" {
		t.Skip("no shared/contract beside the repository: the copy in contract/client is the reference")
	}
	copyDir := filepath.Join(root, "contract", "client")
	want, err := filepath.Glob(filepath.Join(shared, "*"))
	if err != nil {
		t.Fatal(err)
	}
	have, err := filepath.Glob(filepath.Join(copyDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(have) {
		t.Errorf("contract/client has %d files, shared/contract %d: copy it again", len(have), len(want))
	}
	for _, f := range want {
		a, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(copyDir, filepath.Base(f)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("contract/client/%s differs from shared/contract: copy it again", filepath.Base(f))
		}
	}
}

// TestLoadReadsEveryOperation: the client contract and the project's own
// operations load as one set, with no name defined twice.
func TestLoadReadsEveryOperation(t *testing.T) {
	ops, err := Load(filepath.Join("..", "..", "contract"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"SearchPractitioners", "BookAppointment", "MyAgenda", "ImportPractitioners"} {
		if _, ok := ops[name]; !ok {
			t.Errorf("operation %s not loaded", name)
		}
	}
}
