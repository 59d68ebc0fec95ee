//go:build unix

package crypto

import (
	"errors"
	"os"
	"path/filepath"
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
