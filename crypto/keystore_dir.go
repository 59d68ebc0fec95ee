package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Keystore directory errors.
var (
	ErrKeyExists   = errors.New("crypto: keystore: a key with this address already exists")
	ErrKeyNotFound = errors.New("crypto: keystore: no key with this address")
)

// keyFileSuffix ends every key file name in a Keystore directory.
const keyFileSuffix = ".json"

// Keystore is a directory of key files, one per address, each named
// "<address>.json" with the address as 0x-prefixed lower-case hex (for
// example "0x5f…e1.json"). The name makes lookup by address a single open;
// the address is also recorded, and authenticated, inside the file, and
// Load and Export refuse a file whose content names another address.
// Other files in the directory (including the temporary files of an
// interrupted write) are ignored.
//
// A Keystore holds no state beyond its path, so several may share one
// directory; Store and Import refuse to replace an existing key.
type Keystore struct {
	dir string
}

// OpenKeystore opens the keystore in dir, creating the directory (mode
// 0700) if it does not exist.
func OpenKeystore(dir string) (*Keystore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("crypto: open keystore: %w", err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("crypto: open keystore: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("crypto: open keystore: %s is not a directory", dir)
	}
	return &Keystore{dir: dir}, nil
}

// Dir returns the keystore's directory.
func (ks *Keystore) Dir() string { return ks.dir }

// Path returns the file a key with address addr is stored in.
func (ks *Keystore) Path(addr Address) string {
	return filepath.Join(ks.dir, addr.String()+keyFileSuffix)
}

// List returns the addresses of the key files in the directory, sorted.
// It reads file names and kinds only; Load and Export check the content.
//
// The rule for symlinks is ReadKeyFile's, so List shows exactly the keys
// Export, Load and wallet send would open: a key file is a regular file
// or a symlink to one (followed, as for a node home's key files and for
// password files). A symlink to a FIFO, a directory or nothing is left
// out, as ReadKeyFile refuses it.
func (ks *Keystore) List() ([]Address, error) {
	entries, err := os.ReadDir(ks.dir)
	if err != nil {
		return nil, fmt.Errorf("crypto: list keystore: %w", err)
	}
	var addrs []Address
	for _, e := range entries {
		addr, ok := addressOfKeyFileName(e.Name())
		if !ok || !ks.isKeyFile(e) {
			continue
		}
		addrs = append(addrs, addr)
	}
	slices.SortFunc(addrs, func(a, b Address) int { return bytes.Compare(a[:], b[:]) })
	return addrs, nil
}

// isKeyFile reports whether e is a regular file, after following a
// symlink. Stat does not open the target, so a FIFO cannot block it.
func (ks *Keystore) isKeyFile(e os.DirEntry) bool {
	if e.Type()&os.ModeSymlink == 0 {
		return e.Type().IsRegular()
	}
	info, err := os.Stat(filepath.Join(ks.dir, e.Name()))
	return err == nil && info.Mode().IsRegular()
}

// addressOfKeyFileName parses a name written by Path; any other spelling
// (upper-case hex, no 0x) is not one of ours.
func addressOfKeyFileName(name string) (Address, bool) {
	stem, ok := strings.CutSuffix(name, keyFileSuffix)
	if !ok || !strings.HasPrefix(stem, "0x") {
		return Address{}, false
	}
	addr, err := ParseAddress(stem)
	if err != nil || addr.String() != stem {
		return Address{}, false
	}
	return addr, true
}

// Store encrypts key under password and writes it as a new file; it fails
// with ErrKeyExists if the address already has one.
func (ks *Keystore) Store(key PrivateKey, password []byte, params KDFParams, rand io.Reader) (Address, error) {
	if key.IsZero() {
		return Address{}, errors.New("crypto: keystore store: zero PrivateKey")
	}
	addr := key.Public().Address()
	// Check before the (deliberately slow) KDF; Import checks again,
	// atomically.
	if _, err := os.Lstat(ks.Path(addr)); err == nil {
		return Address{}, fmt.Errorf("crypto: keystore store %s: %w", addr, ErrKeyExists)
	}
	data, err := EncryptKey(key, password, params, rand)
	if err != nil {
		return Address{}, fmt.Errorf("crypto: keystore store %s: %w", addr, err)
	}
	return ks.Import(data)
}

// Import adds an already encrypted key file (as Export returns it) under
// the address it records; it fails with ErrKeyExists if that address
// already has one.
func (ks *Keystore) Import(data []byte) (Address, error) {
	info, err := InspectKey(data)
	if err != nil {
		return Address{}, fmt.Errorf("crypto: keystore import: %w", err)
	}
	if err := writeKeyFile(ks.Path(info.Address), data, true); err != nil {
		return Address{}, fmt.Errorf("crypto: keystore import %s: %w", info.Address, err)
	}
	return info.Address, nil
}

// Export returns the encrypted key file of addr, checked to be well formed
// and to record addr.
func (ks *Keystore) Export(addr Address) ([]byte, error) {
	data, err := ReadKeyFile(ks.Path(addr))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("crypto: keystore %s: %w", addr, ErrKeyNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("crypto: keystore %s: %w", addr, err)
	}
	info, err := InspectKey(data)
	if err != nil {
		return nil, fmt.Errorf("crypto: keystore %s: %w", addr, err)
	}
	if info.Address != addr {
		return nil, fmt.Errorf("crypto: keystore %s: %w: file records address %s", addr, ErrKeystoreFormat, info.Address)
	}
	return data, nil
}

// Load decrypts the key of addr with password.
func (ks *Keystore) Load(addr Address, password []byte) (PrivateKey, error) {
	data, err := ks.Export(addr)
	if err != nil {
		return PrivateKey{}, err
	}
	key, err := DecryptKey(data, password)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("crypto: keystore %s: %w", addr, err)
	}
	return key, nil
}
