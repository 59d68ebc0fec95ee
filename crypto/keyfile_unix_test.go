//go:build unix

package crypto

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestReadKeyFileFIFO checks that a FIFO under a key file's name (junk in
// a keystore directory or a node home) is refused at once: opening a FIFO
// for reading blocks until some process opens it for writing.
func TestReadKeyFileFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0x"+"00112233445566778899aabbccddeeff00112233"+".json")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadKeyFile(path); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrKeystoreFormat) {
			t.Fatalf("FIFO: err = %v, want ErrKeystoreFormat", err)
		}
	case <-time.After(5 * time.Second):
		// Release the blocked open so the goroutine ends with the test.
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		t.Fatal("ReadKeyFile blocked on a FIFO")
	}
}

// TestKeystoreListAgreesWithExport checks that List shows a key exactly
// when Export opens it, for the symlinks a user may leave in a keystore:
// one to a key file elsewhere (listed and exported), one to a FIFO and a
// dangling one (neither). List used to skip every symlink, so wallet list
// and send missed a key that wallet export read.
func TestKeystoreListAgreesWithExport(t *testing.T) {
	ks, err := OpenKeystore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := OpenKeystore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	linked, err := elsewhere.Store(testKey(t, 1), testPassword, LightKDFParams(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere.Path(linked), ks.Path(linked)); err != nil {
		t.Skipf("symlink: %v", err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	toFIFO, dangling := testKey(t, 2).Public().Address(), testKey(t, 3).Public().Address()
	if err := os.Symlink(fifo, ks.Path(toFIFO)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(t.TempDir(), "gone.json"), ks.Path(dangling)); err != nil {
		t.Fatal(err)
	}

	addrs, err := ks.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []Address{linked, toFIFO, dangling} {
		_, exportErr := ks.Export(addr)
		if listed := slices.Contains(addrs, addr); listed != (exportErr == nil) {
			t.Errorf("%s: listed %v, but Export err = %v", addr, listed, exportErr)
		}
	}
	if !slices.Equal(addrs, []Address{linked}) {
		t.Fatalf("List = %v, want only the symlinked key file %s", addrs, linked)
	}
}
