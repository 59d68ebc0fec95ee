package crypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// dirNames lists a directory's entries.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestWriteKeyFileAtomic checks the write contract: the file reads back
// byte for byte, has mode 0600, a second write replaces it, and no
// temporary file is left behind.
func TestWriteKeyFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "validator_key.json")
	_, data := encryptTestKey(t, 1)
	if err := WriteKeyFile(path, data); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", info.Mode().Perm())
	}
	_, data2 := encryptTestKey(t, 2)
	if err := WriteKeyFile(path, data2); err != nil {
		t.Fatal(err)
	}
	got, err := ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data2) {
		t.Fatal("file does not hold the second write")
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"validator_key.json"}) {
		t.Fatalf("directory holds %v, want only the key file", names)
	}
}

// TestWriteKeyFileRefusesBadData checks that WriteKeyFile will not write a
// file ReadKeyFile and DecryptKey would refuse, and leaves nothing behind.
func TestWriteKeyFileRefusesBadData(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k.json")
	for _, data := range [][]byte{nil, []byte("{}"), bytes.Repeat([]byte(" "), KeystoreBytesMax+1)} {
		if err := WriteKeyFile(path, data); err == nil {
			t.Errorf("wrote %d bytes of garbage", len(data))
		}
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Fatalf("directory holds %v after refused writes", names)
	}
	if err := WriteKeyFile(filepath.Join(dir, "missing", "k.json"), nil); err == nil {
		t.Fatal("wrote into a missing directory")
	}
}

// TestReadKeyFileLimits checks ReadKeyFile's refusals: too large, not a
// regular file, missing.
func TestReadKeyFileLimits(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, make([]byte, KeystoreBytesMax+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKeyFile(big); !errors.Is(err, ErrKeystoreTooLarge) {
		t.Errorf("oversized: err = %v", err)
	}
	max := filepath.Join(dir, "max.json")
	if err := os.WriteFile(max, make([]byte, KeystoreBytesMax), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadKeyFile(max); err != nil || len(data) != KeystoreBytesMax {
		t.Errorf("at the limit: %d bytes, %v", len(data), err)
	}
	if _, err := ReadKeyFile(dir); err == nil {
		t.Error("read a directory")
	}
	if _, err := ReadKeyFile(filepath.Join(dir, "none.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: err = %v", err)
	}
}

// TestKeystoreDirectory checks the directory type end to end: store two
// keys, list them sorted, load each with its password, refuse duplicates,
// unknown addresses and wrong passwords, and ignore foreign files.
func TestKeystoreDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keystore")
	ks, err := OpenKeystore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("keystore dir: %v, %v", info.Mode(), err)
	}
	k1, k2 := testKey(t, 1), testKey(t, 2)
	for _, k := range []PrivateKey{k1, k2} {
		addr, err := ks.Store(k, testPassword, LightKDFParams(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if addr != k.Public().Address() {
			t.Fatalf("Store returned %s, want %s", addr, k.Public().Address())
		}
	}
	// Foreign files that must not be listed.
	for _, name := range []string{"README", ".keyfile-123.tmp", "0xABC.json", "0x" + "AA" + k1.Public().Address().String()[4:] + ".json"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addrs, err := ks.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []Address{k1.Public().Address(), k2.Public().Address()}
	slices.SortFunc(want, func(a, b Address) int { return bytes.Compare(a[:], b[:]) })
	if !slices.Equal(addrs, want) {
		t.Fatalf("List = %v, want %v", addrs, want)
	}
	for _, k := range []PrivateKey{k1, k2} {
		got, err := ks.Load(k.Public().Address(), testPassword)
		if err != nil || got.Public() != k.Public() {
			t.Fatalf("Load %s: %v", k.Public().Address(), err)
		}
		info, err := os.Stat(ks.Path(k.Public().Address()))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("key file mode: %v", err)
		}
	}
	if _, err := ks.Store(k1, testPassword, LightKDFParams(), rand.Reader); !errors.Is(err, ErrKeyExists) {
		t.Errorf("duplicate Store: err = %v", err)
	}
	if _, err := ks.Load(testKey(t, 3).Public().Address(), testPassword); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("unknown address: err = %v", err)
	}
	if _, err := ks.Load(k1.Public().Address(), []byte("nope")); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("wrong password: err = %v", err)
	}
}

// TestKeystoreExportImport checks the wallet export/import path: an
// exported file imports into another keystore under the same address and
// decrypts there; importing twice is refused; a file renamed to another
// address's name is refused on load.
func TestKeystoreExportImport(t *testing.T) {
	src, err := OpenKeystore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dst, err := OpenKeystore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	k := testKey(t, 5)
	addr, err := src.Store(k, testPassword, LightKDFParams(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	data, err := src.Export(addr)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := dst.Import(data); err != nil || got != addr {
		t.Fatalf("Import: %s, %v", got, err)
	}
	if _, err := dst.Import(data); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("second Import: err = %v", err)
	}
	if got, err := dst.Load(addr, testPassword); err != nil || got.Public() != k.Public() {
		t.Fatalf("Load after import: %v", err)
	}
	if _, err := dst.Import([]byte("{}")); err == nil {
		t.Fatal("imported garbage")
	}
	// Rename the file to another address's name: the content disagrees.
	other := testKey(t, 6).Public().Address()
	if err := os.Rename(dst.Path(addr), dst.Path(other)); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Load(other, testPassword); !errors.Is(err, ErrKeystoreFormat) {
		t.Fatalf("renamed file: err = %v", err)
	}
	if names := dirNames(t, dst.Dir()); len(names) != 1 {
		t.Fatalf("import left extra files: %v", names)
	}
}

// TestOpenKeystoreOnFile checks that a path naming a regular file is not
// taken for a keystore directory.
func TestOpenKeystoreOnFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeystore(path); err == nil {
		t.Fatal("opened a regular file as a keystore")
	}
}
