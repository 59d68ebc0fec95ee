package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/synod-chain/synod/crypto"
)

// PasswordBytesMax bounds a password file.
const PasswordBytesMax = 4096

// ReadPasswordFile reads a keystore password: the file's first line,
// without its line ending.
func ReadPasswordFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loadgen: password file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, PasswordBytesMax+1))
	if err != nil {
		return nil, fmt.Errorf("loadgen: password file: %w", err)
	}
	if len(b) > PasswordBytesMax {
		return nil, fmt.Errorf("loadgen: password file %s exceeds %d bytes", path, PasswordBytesMax)
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return nil, fmt.Errorf("loadgen: password file %s is empty", path)
	}
	return b, nil
}

// LoadKeystore decrypts the first count keys (in address order) of the
// keystore in dir; count <= 0 means all of them, up to AccountsMax. A
// testnet's wallets use light KDF parameters, so hundreds load in a
// moment; keys under the default parameters take a fraction of a second
// each.
func LoadKeystore(dir string, password []byte, count int) ([]crypto.PrivateKey, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("loadgen: keystore: %w", err)
	}
	ks, err := crypto.OpenKeystore(dir)
	if err != nil {
		return nil, err
	}
	addrs, err := ks.List()
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("loadgen: keystore %s holds no keys", dir)
	}
	if count <= 0 {
		count = min(len(addrs), AccountsMax)
	}
	if count > len(addrs) {
		return nil, fmt.Errorf("loadgen: %d accounts wanted, keystore %s holds %d", count, dir, len(addrs))
	}
	if count > AccountsMax {
		return nil, errors.New("loadgen: too many accounts")
	}
	keys := make([]crypto.PrivateKey, count)
	for i := range keys {
		if keys[i], err = ks.Load(addrs[i], password); err != nil {
			return nil, fmt.Errorf("loadgen: %w", err)
		}
	}
	return keys, nil
}
