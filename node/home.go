package node

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/synod-chain/synod/crypto"
)

// ErrHomeExists is returned by InitHome for a home that already has a
// config or keys: init never overwrites a validator key.
var ErrHomeExists = errors.New("node home already initialised")

// HomeKeys are the two keys of a node: the validator key signs consensus
// messages; the node key is the libp2p identity. They are separate so the
// network layer never holds the key that can double-sign.
type HomeKeys struct {
	Validator crypto.PrivateKey
	Node      crypto.PrivateKey
}

// InitHome creates a node home: config.toml, and both keys encrypted with
// password. It refuses to touch a home that already has any of them.
func InitHome(home string, cfg Config, password []byte, kdf crypto.KDFParams, rand io.Reader) (HomeKeys, error) {
	if err := cfg.Validate(); err != nil {
		return HomeKeys{}, err
	}
	for _, f := range []string{ConfigFile, ValidatorKeyFile, NodeKeyFile} {
		if _, err := os.Stat(filepath.Join(home, f)); err == nil {
			return HomeKeys{}, fmt.Errorf("%w: %s exists", ErrHomeExists, filepath.Join(home, f))
		}
	}
	if err := os.MkdirAll(filepath.Join(home, "keys"), 0o700); err != nil {
		return HomeKeys{}, err
	}
	var keys HomeKeys
	var err error
	if keys.Validator, err = crypto.GenerateKey(rand); err != nil {
		return HomeKeys{}, err
	}
	if keys.Node, err = crypto.GenerateKey(rand); err != nil {
		return HomeKeys{}, err
	}
	for _, k := range []struct {
		file string
		key  crypto.PrivateKey
	}{{ValidatorKeyFile, keys.Validator}, {NodeKeyFile, keys.Node}} {
		data, err := crypto.EncryptKey(k.key, password, kdf, rand)
		if err != nil {
			return HomeKeys{}, fmt.Errorf("encrypt %s: %w", k.file, err)
		}
		if err := crypto.WriteKeyFile(filepath.Join(home, k.file), data); err != nil {
			return HomeKeys{}, fmt.Errorf("write %s: %w", k.file, err)
		}
	}
	if err := WriteConfig(home, cfg); err != nil {
		return HomeKeys{}, err
	}
	return keys, nil
}

// LoadKeys decrypts both keys of a home.
func LoadKeys(home string, password []byte) (HomeKeys, error) {
	var keys HomeKeys
	for _, k := range []struct {
		file string
		dst  *crypto.PrivateKey
	}{{ValidatorKeyFile, &keys.Validator}, {NodeKeyFile, &keys.Node}} {
		data, err := crypto.ReadKeyFile(filepath.Join(home, k.file))
		if err != nil {
			return HomeKeys{}, fmt.Errorf("read %s: %w", k.file, err)
		}
		if *k.dst, err = crypto.DecryptKey(data, password); err != nil {
			return HomeKeys{}, fmt.Errorf("decrypt %s: %w", k.file, err)
		}
	}
	return keys, nil
}

// ReadPasswordFile reads a password from its file, as every command does
// (crypto.ReadPasswordFile).
func ReadPasswordFile(path string) ([]byte, error) { return crypto.ReadPasswordFile(path) }
