package node

import (
	"crypto/rand"
	"fmt"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/p2p"
)

// DevAccountBalance funds the dev chain's account.
const DevAccountBalance = 1_000_000_000_000

// DevChainOptions configure InitDevChain.
type DevChainOptions struct {
	Home    string
	Moniker string
	ChainID string
	// Password encrypts every key; nil generates one.
	Password []byte
	KDF      crypto.KDFParams
}

// DevChain describes what InitDevChain wrote.
type DevChain struct {
	Home    string
	ChainID string
	Keys    HomeKeys
	PeerID  peer.ID
	Account crypto.Address
	Balance uint64
	Wallet  string // keystore directory holding the dev account's key
}

// InitDevChain makes a home that runs a chain on its own: this node is the
// only validator (n = 1, f = 0, quorum 1), and one dev account is funded.
func InitDevChain(opts DevChainOptions) (DevChain, error) {
	// Before the home is written: init refuses a home that has keys, so a
	// genesis refused afterwards would leave one that cannot be redone.
	if err := ledger.ValidateChainID(opts.ChainID); err != nil {
		return DevChain{}, err
	}
	password := opts.Password
	if password == nil {
		var err error
		if password, err = randomPassword(rand.Reader); err != nil {
			return DevChain{}, err
		}
	}
	cfg := DefaultConfig(opts.Moniker)
	keys, err := InitHome(opts.Home, cfg, password, opts.KDF, rand.Reader)
	if err != nil {
		return DevChain{}, err
	}
	if err := writeFileAtomic(filepath.Join(opts.Home, PasswordFile), password, 0o600); err != nil {
		return DevChain{}, err
	}
	id, err := p2p.PeerIDFromKey(keys.Node.Public())
	if err != nil {
		return DevChain{}, err
	}
	wallet, err := crypto.OpenKeystore(filepath.Join(opts.Home, "wallet"))
	if err != nil {
		return DevChain{}, err
	}
	account, err := crypto.GenerateKey(rand.Reader)
	if err != nil {
		return DevChain{}, err
	}
	if _, err := wallet.Store(account, password, opts.KDF, rand.Reader); err != nil {
		return DevChain{}, err
	}
	g := &ledger.Genesis{
		ChainID:     opts.ChainID,
		GenesisTime: time.Now().UTC().Truncate(time.Second),
		Validators: []ledger.Validator{{Name: opts.Moniker, PublicKey: keys.Validator.Public(),
			NetAddress: fmt.Sprintf("%s/p2p/%s", cfg.P2P.Listen[0], id)}},
		Accounts:  []ledger.GenesisAccount{{Address: account.Public().Address(), Amount: DevAccountBalance}},
		Consensus: ledger.DefaultConsensusParams(),
	}
	if err := g.Validate(); err != nil {
		return DevChain{}, err
	}
	if err := writeFileAtomic(filepath.Join(opts.Home, GenesisFile), g.Encode(), 0o644); err != nil {
		return DevChain{}, err
	}
	return DevChain{Home: opts.Home, ChainID: g.ChainID, Keys: keys, PeerID: id,
		Account: account.Public().Address(), Balance: DevAccountBalance, Wallet: wallet.Dir()}, nil
}

// KeysInfo is what `synod keys show` prints.
type KeysInfo struct {
	ValidatorKey crypto.PublicKey
	PeerID       peer.ID
}

// ShowKeys reads the public halves of a home's keys; no password needed.
func ShowKeys(home string) (KeysInfo, error) {
	var info KeysInfo
	for _, k := range []struct {
		file string
		dst  *crypto.PublicKey
	}{{ValidatorKeyFile, &info.ValidatorKey}, {NodeKeyFile, nil}} {
		data, err := crypto.ReadKeyFile(filepath.Join(home, k.file))
		if err != nil {
			return KeysInfo{}, fmt.Errorf("read %s: %w", k.file, err)
		}
		ki, err := crypto.InspectKey(data)
		if err != nil {
			return KeysInfo{}, fmt.Errorf("%s: %w", k.file, err)
		}
		if k.dst != nil {
			*k.dst = ki.PublicKey
			continue
		}
		if info.PeerID, err = p2p.PeerIDFromKey(ki.PublicKey); err != nil {
			return KeysInfo{}, err
		}
	}
	return info, nil
}
