package crypto_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synod-chain/synod/crypto"
)

// TestReadPasswordFile: the one reading of a password file every command
// shares. The password is the first line without its ending; blank lines
// after it are fine; text after it, an empty password, an oversized file
// and a directory are refused with ErrPasswordFile.
func TestReadPasswordFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"plain", "hunter2", "hunter2"},
		{"newline", "hunter2\n", "hunter2"},
		{"crlf", "hunter2\r\n", "hunter2"},
		{"blank lines after", "hunter2\n\n \n", "hunter2"},
		{"inner spaces kept", " hunter 2 \n", " hunter 2 "},
		{"second line", "hunter2\nhunter3\n", ""},
		{"empty", "", ""},
		{"empty first line", "\nhunter2\n", ""},
		{"oversized", strings.Repeat("x", crypto.PasswordFileBytesMax+1), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := crypto.ReadPasswordFile(path)
			if tc.want == "" {
				if !errors.Is(err, crypto.ErrPasswordFile) {
					t.Fatalf("got %q, %v; want ErrPasswordFile", got, err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := crypto.ReadPasswordFile(dir); !errors.Is(err, crypto.ErrPasswordFile) {
		t.Fatalf("directory: %v", err)
	}
	if _, err := crypto.ReadPasswordFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
