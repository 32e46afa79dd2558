package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The tests build a small stand-in program through the very same path as `make image` (go build
// with the image's flags, then the layer, config and layout); building careslot itself is what
// `make image` does, and takes minutes on a cold cache.
const testPackage = "./testdata/hello"

func testSpec() Spec {
	return Spec{Src: ".", Package: testPackage, Created: time.Unix(0, 0).UTC(),
		Labels: map[string]string{"org.opencontainers.image.revision": "test"}}
}

func buildAndWrite(t *testing.T, dir string) v1.Hash {
	t.Helper()
	img, err := Build(context.Background(), testSpec())
	if err != nil {
		t.Fatal(err)
	}
	digest, err := Write(img, dir, "careslot:test")
	if err != nil {
		t.Fatal(err)
	}
	return digest
}

func TestTwoBuildsGiveOneDigest(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	da, db := buildAndWrite(t, a), buildAndWrite(t, b)
	if da != db {
		t.Fatalf("two builds of one tree gave %s and %s", da, db)
	}
	for _, f := range []string{"careslot.tar", "oci/index.json", "digest"} {
		x, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two builds", f)
		}
	}
	written, err := os.ReadFile(filepath.Join(a, "digest"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(written)) != da.String() {
		t.Errorf("digest file says %q, image is %s", written, da)
	}
}

func TestTimestampChangesTheDigest(t *testing.T) {
	// The fixed timestamp is what makes builds reproducible; it must actually be in the image.
	s := testSpec()
	a, err := Build(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	s.Created = time.Unix(1700000000, 0).UTC()
	b, err := Build(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da == db {
		t.Fatal("images built at two timestamps share a digest")
	}
}

func TestImageFromLayoutIsHardened(t *testing.T) {
	dir := t.TempDir()
	want := buildAndWrite(t, dir)

	idx, err := layout.ImageIndexFromPath(filepath.Join(dir, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != want {
		t.Fatalf("layout index %+v, want one manifest %s", im.Manifests, want)
	}
	if ref := im.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; ref != "careslot:test" {
		t.Errorf("ref.name annotation %q", ref)
	}
	img, err := idx.Image(want)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s, want OCI", mt)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("config media type %s", m.Config.MediaType)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
		t.Fatalf("layers %+v, want one OCI gzip layer on an empty base", m.Layers)
	}

	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("platform %s/%s", cfg.OS, cfg.Architecture)
	}
	if cfg.Config.User != "1000:1000" {
		t.Errorf("user %q, want 1000:1000", cfg.Config.User)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/usr/local/bin/careslot"}) || len(cfg.Config.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q", cfg.Config.Entrypoint, cfg.Config.Cmd)
	}
	if !cfg.Created.Time.Equal(time.Unix(0, 0)) {
		t.Errorf("created %s, want the fixed epoch", cfg.Created.Time)
	}
	for _, h := range cfg.History {
		if !h.Created.Time.Equal(time.Unix(0, 0)) {
			t.Errorf("history entry created %s", h.Created.Time)
		}
	}
	if cfg.Config.Labels["org.opencontainers.image.revision"] != "test" {
		t.Errorf("labels %v", cfg.Config.Labels)
	}

	files := layerFiles(t, img)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	wantNames := []string{"etc/", "etc/group", "etc/passwd", "etc/ssl/", "etc/ssl/certs/",
		"etc/ssl/certs/ca-certificates.crt", "tmp/", "usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/careslot"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("files %q, want exactly %q (no shell, no package manager)", names, wantNames)
	}
	for _, shell := range []string{"bin/sh", "bin/bash", "bin/busybox"} {
		if _, ok := files[shell]; ok {
			t.Errorf("image has %s", shell)
		}
	}
	for n, f := range files {
		if f.hdr.Uid != 0 || f.hdr.Gid != 0 {
			t.Errorf("%s owned by %d:%d, want root (not writable by the user it runs as)", n, f.hdr.Uid, f.hdr.Gid)
		}
		if !f.hdr.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s mtime %s", n, f.hdr.ModTime)
		}
	}
	bin := files["usr/local/bin/careslot"]
	if bin.hdr.Mode != 0o755 {
		t.Errorf("binary mode %o", bin.hdr.Mode)
	}
	ef, err := elf.NewFile(bytes.NewReader(bin.data))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary is dynamically linked (%s): the empty base has no loader", p.Type)
		}
	}
	if !strings.Contains(string(files["etc/passwd"].data), "careslot:x:1000:1000:") {
		t.Errorf("passwd lacks user 1000: %q", files["etc/passwd"].data)
	}
	if !bytes.Contains(files["etc/ssl/certs/ca-certificates.crt"].data, []byte("-----BEGIN CERTIFICATE-----")) {
		t.Error("CA bundle has no certificate")
	}
	if files["tmp/"].hdr.Mode != 0o1777 {
		t.Errorf("/tmp mode %o", files["tmp/"].hdr.Mode)
	}
}

func TestTarballLoadsBack(t *testing.T) {
	dir := t.TempDir()
	want := buildAndWrite(t, dir)
	img, err := tarball.ImageFromPath(filepath.Join(dir, "careslot.tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// A docker-format tarball keeps the config and layers, so the loaded image's config digest
	// (its image id) is the one built.
	built, err := layout.ImageIndexFromPath(filepath.Join(dir, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	orig, err := built.Image(want)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := img.ConfigName()
	b, _ := orig.ConfigName()
	if a != b {
		t.Fatalf("tarball image id %s, built %s", a, b)
	}
}

func TestPushThenPullGivesTheBuiltDigest(t *testing.T) {
	// A real registry (go-containerregistry's, in process).
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	img, err := Build(context.Background(), testSpec())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, err := Push(context.Background(), img, host+"/careslot/careslot:test")
	if err != nil {
		t.Fatal(err)
	}
	if ref != host+"/careslot/careslot@"+want.String() {
		t.Fatalf("push returned %q", ref)
	}
	byDigest, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(byDigest)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := pulled.Digest()
	if got != want {
		t.Fatalf("pulled %s, pushed %s", got, want)
	}
	tagRef, err := name.ParseReference(host + "/careslot/careslot:test")
	if err != nil {
		t.Fatal(err)
	}
	byTag, err := remote.Image(tagRef)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := byTag.Digest(); d != want {
		t.Fatalf("tag points at %s, pushed %s", d, want)
	}
}

type layerFile struct {
	hdr  *tar.Header
	data []byte
}

func layerFiles(t *testing.T, img v1.Image) map[string]layerFile {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]layerFile{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = layerFile{hdr: h, data: data}
		}
		rc.Close()
	}
	return files
}
