package loadgen

import (
	"errors"
	"fmt"
	"os"

	"github.com/synod-chain/synod/crypto"
)

// ReadPasswordFile reads a keystore password as every command does
// (crypto.ReadPasswordFile).
func ReadPasswordFile(path string) ([]byte, error) { return crypto.ReadPasswordFile(path) }

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
