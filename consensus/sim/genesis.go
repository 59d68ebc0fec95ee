package sim

import (
	"fmt"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// The simulated chain: validators and funded accounts have keys derived
// from fixed seeds, and every account's transfers are signed once, so a
// scenario pays for ed25519 only when replicas verify.
const (
	simAccountsCount = 4
	simTxsPerAccount = 8
	simAccountFunds  = 1_000_000
)

var simAccounts, simTxs = makeAccounts()

func seedKey(label string, i int) crypto.PrivateKey {
	seed := crypto.Sum256(fmt.Appendf(nil, "synod-sim/%s/%d", label, i))
	k, err := crypto.PrivateKeyFromSeed(seed[:])
	if err != nil {
		panic(fmt.Sprintf("sim: key from seed: %v", err))
	}
	return k
}

func makeAccounts() ([]crypto.PrivateKey, [][]*ledger.Tx) {
	keys := make([]crypto.PrivateKey, simAccountsCount)
	for i := range keys {
		keys[i] = seedKey("account", i)
	}
	txs := make([][]*ledger.Tx, simAccountsCount)
	for a, k := range keys {
		for nonce := range simTxsPerAccount {
			tx := &ledger.Tx{ChainID: chainID, Nonce: uint64(nonce), To: keys[(a+1)%len(keys)].Public().Address(), Amount: 10 + uint64(nonce), Fee: 1}
			tx.Sign(k)
			txs[a] = append(txs[a], tx)
		}
	}
	return keys, txs
}

// simGenesis is the genesis of a simulated chain of n validators, with a
// small window and checkpoint interval so view changes and checkpoints
// happen often.
func simGenesis(n int) (*ledger.Genesis, error) {
	g := &ledger.Genesis{ChainID: chainID, GenesisTime: time.Unix(1_700_000_000, 0).UTC(), Consensus: ledger.DefaultConsensusParams()}
	g.Consensus.CheckpointInterval = 4
	g.Consensus.WindowHeights = 8
	g.Consensus.BlockTxsMax = 64
	for i := range n {
		g.Validators = append(g.Validators, ledger.Validator{Name: fmt.Sprintf("v%d", i), PublicKey: seedKey("validator", i).Public()})
	}
	for _, k := range simAccounts {
		g.Accounts = append(g.Accounts, ledger.GenesisAccount{Address: k.Public().Address(), Amount: simAccountFunds})
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return g, nil
}
