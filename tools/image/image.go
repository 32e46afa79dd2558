package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Paths inside the image.
const (
	binaryPath = "/usr/local/bin/careslot"
	caPath     = "/etc/ssl/certs/ca-certificates.crt"
	// The non-root user every container runs as (the chart's runAsUser).
	uid = 1000
)

// Spec is what one image is made of.
type Spec struct {
	// Src is the main module's root; Package is built from it (default ./cmd/careslot).
	Src     string
	Package string
	// Arch is the GOARCH of the binary and the image platform (default amd64).
	Arch string
	// CACertificates is the PEM bundle copied to /etc/ssl/certs (default Debian's).
	CACertificates string
	// Created is the one timestamp of the image: config, history and every file (default the
	// Unix epoch, or SOURCE_DATE_EPOCH), so two builds of one tree give one digest.
	Created time.Time
	// Labels are added to the image configuration (e.g. the source revision).
	Labels map[string]string
}

// buildBinary compiles a static, reproducible binary: no cgo (so no libc and no loader),
// -trimpath (no build paths), no build id and no VCS stamp (the revision is an image label instead,
// so a dirty tree and a clean one of the same content give the same bytes).
func buildBinary(ctx context.Context, s Spec, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid=", "-o", out, s.Package)
	cmd.Dir = s.Src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+s.Arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", s.Package, err)
	}
	return nil
}

// Build compiles the binary and assembles the image on an empty base: one layer with the binary,
// the CA bundle, passwd/group entries for user 1000 and a world-writable /tmp, and nothing else
// (no shell, no package manager). Time zones come from the binary itself, which embeds Go's
// time/tzdata.
func Build(ctx context.Context, s Spec) (v1.Image, error) {
	if s.Package == "" {
		s.Package = "./cmd/careslot"
	}
	if s.Arch == "" {
		s.Arch = "amd64"
	}
	if s.CACertificates == "" {
		s.CACertificates = caPath
	}
	tmp, err := os.MkdirTemp("", "careslot-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "careslot")
	if err := buildBinary(ctx, s, bin); err != nil {
		return nil, err
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(s.CACertificates)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	layerTar, err := rootFS(s.Created, binary, ca)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}

	created := v1.Time{Time: s.Created}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: s.Arch,
		OS:           "linux",
		Created:      created,
		Config: v1.Config{
			User:       fmt.Sprintf("%d:%d", uid, uid),
			Entrypoint: []string{binaryPath},
			WorkingDir: "/",
			Env: []string{
				"PATH=/usr/local/bin",
				"SSL_CERT_FILE=" + caPath,
				"HOME=/tmp",
			},
			Labels: s.Labels,
		},
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   created,
			CreatedBy: "careslot tools/image: " + s.Package + " (CGO_ENABLED=0, -trimpath), CA certificates, user 1000",
		},
	})
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return img, nil
}

// rootFS is the image's only layer as an uncompressed tar, every entry owned by root (the binary
// is not writable by the user it runs as) with one modification time.
func rootFS(mtime time.Time, binary, ca []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\ncareslot:x:%d:%d:careslot:/tmp:/sbin/nologin\n", uid, uid)
	group := fmt.Sprintf("root:x:0:\ncareslot:x:%d:\n", uid)
	steps := []func() error{
		func() error { return dir("etc", 0o755) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return dir("etc/ssl", 0o755) },
		func() error { return dir("etc/ssl/certs", 0o755) },
		func() error { return file(strings.TrimPrefix(caPath, "/"), 0o644, ca) },
		// Pods mount an emptyDir here (read-only root filesystem); without one it is still usable.
		func() error { return dir("tmp", 0o1777) },
		func() error { return dir("usr", 0o755) },
		func() error { return dir("usr/local", 0o755) },
		func() error { return dir("usr/local/bin", 0o755) },
		func() error { return file(strings.TrimPrefix(binaryPath, "/"), 0o755, binary) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
