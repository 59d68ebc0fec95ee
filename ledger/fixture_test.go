package ledger_test

import (
	"maps"
	"sync"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// The fixtures below are shared by the ledger's property, directed, fuzz
// and benchmark tests. Keys come from fixed seeds so every run, and every
// failing rapid seed, replays exactly.

const testChain = "synod-test"

// fixtureKeysMax is how many deterministic keys testKey can hand out.
const fixtureKeysMax = 1100

var (
	fixtureKeysMu sync.Mutex
	fixtureKeys   = make([]crypto.PrivateKey, fixtureKeysMax)
)

// testKey returns the i-th deterministic key (seed = "synod-fixture" || i).
func testKey(i int) crypto.PrivateKey {
	fixtureKeysMu.Lock()
	defer fixtureKeysMu.Unlock()
	if !fixtureKeys[i].IsZero() {
		return fixtureKeys[i]
	}
	var seed [crypto.SeedBytes]byte
	copy(seed[:], "synod-fixture")
	seed[30], seed[31] = byte(i>>8), byte(i)
	k, err := crypto.PrivateKeyFromSeed(seed[:])
	if err != nil {
		panic(err)
	}
	fixtureKeys[i] = k
	return k
}

func testAddr(i int) crypto.Address { return testKey(i).Public().Address() }

// identityKey is the encoding of the neutral point, a small-order public
// key that std ed25519 would accept for some signatures.
var identityKey = crypto.PublicKey{1}

// signedTx returns a tx from key's account, signed for chainID.
func signedTx(chainID string, key crypto.PrivateKey, nonce uint64, to crypto.Address, amount, fee uint64, memo []byte) *ledger.Tx {
	tx := &ledger.Tx{ChainID: chainID, Nonce: nonce, To: to, Amount: amount, Fee: fee, Memo: memo}
	tx.Sign(key)
	return tx
}

var fixtureGenesisTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// testGenesis funds accounts 0..len(balances)-1 and makes keys
// 0..validators-1 the validator set.
func testGenesis(validators int, balances ...uint64) *ledger.Genesis {
	g := &ledger.Genesis{
		ChainID:     testChain,
		GenesisTime: fixtureGenesisTime,
		Consensus:   ledger.DefaultConsensusParams(),
	}
	for i := range validators {
		g.Validators = append(g.Validators, ledger.Validator{Name: "v" + string(rune('a'+i%26)), PublicKey: testKey(i).Public()})
	}
	for i, b := range balances {
		g.Accounts = append(g.Accounts, ledger.GenesisAccount{Address: testAddr(i), Amount: ledger.Amount(b)})
	}
	return g
}

// fataler is the part of testing.TB the fixtures need; *rapid.T has it too.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// chainAt is a committed chain tip: the head header and the state after it.
type chainAt struct {
	genesis *ledger.Genesis
	params  ledger.ConsensusParams
	head    ledger.Header
	state   *ledger.MemState
}

// startChain validates g and returns the chain at its genesis block.
func startChain(tb fataler, g *ledger.Genesis) *chainAt {
	tb.Helper()
	if err := g.Validate(); err != nil {
		tb.Fatalf("fixture genesis: %v", err)
	}
	b, diff := ledger.GenesisBlock(g)
	st := ledger.NewMemState()
	st.Apply(diff)
	return &chainAt{genesis: g, params: g.Consensus, head: b.Header, state: st}
}

// template returns a BlockTemplate for the child of the head.
func (c *chainAt) template(proposer crypto.Address) ledger.BlockTemplate {
	return ledger.BlockTemplate{
		ChainID: c.genesis.ChainID, Params: c.params, Parent: &c.head,
		View: c.head.Height + 1, Proposer: proposer, Timestamp: c.head.Timestamp + 1000,
	}
}

// build makes the next block from candidates without committing it.
func (c *chainAt) build(tb fataler, proposer crypto.Address, candidates []*ledger.Tx) (*ledger.Block, *ledger.StateDiff) {
	tb.Helper()
	b, diff, err := ledger.BuildBlock(c.template(proposer), c.state, candidates)
	if err != nil {
		tb.Fatalf("BuildBlock: %v", err)
	}
	return b, diff
}

// commit validates b as the next block and applies it.
func (c *chainAt) commit(tb fataler, b *ledger.Block) {
	tb.Helper()
	diff, err := ledger.ValidateBlock(c.genesis.ChainID, c.params, &c.head, c.state, b)
	if err != nil {
		tb.Fatalf("ValidateBlock of height %d: %v", b.Header.Height, err)
	}
	c.state.Apply(diff)
	c.head = b.Header
}

// rootFromScratch is the state root of accounts computed without any
// incremental step: one LtHash leaf (address || account) per non-empty
// account, as the ledger's package doc defines the state.
func rootFromScratch(accounts map[crypto.Address]ledger.Account) crypto.Hash {
	var h ledger.LtHash
	for addr, a := range accounts {
		if a.IsEmpty() {
			continue
		}
		h.Add(append(addr[:], ledger.EncodeAccount(a)...))
	}
	return h.Root()
}

// supply is the sum of all balances.
func supply(tb fataler, accounts map[crypto.Address]ledger.Account) uint64 {
	tb.Helper()
	var s uint64
	for _, a := range accounts {
		if s+a.Balance < s {
			tb.Fatalf("supply overflows uint64")
		}
		s += a.Balance
	}
	return s
}

// snapshot is what a rejected block must leave untouched.
type snapshot struct {
	accounts map[crypto.Address]ledger.Account
	hash     []byte
}

func takeSnapshot(st *ledger.MemState) snapshot {
	h := st.StateHash()
	return snapshot{accounts: st.Accounts(), hash: h.Encode()}
}

func (s snapshot) same(st *ledger.MemState) bool {
	h := st.StateHash()
	return maps.Equal(s.accounts, st.Accounts()) && string(s.hash) == string(h.Encode())
}

// txEqual compares txs field by field; a nil and an empty memo are the
// same value (both encode as length 0).
func txEqual(a, b *ledger.Tx) bool {
	return a.ChainID == b.ChainID && a.From == b.From && a.Nonce == b.Nonce && a.To == b.To &&
		a.Amount == b.Amount && a.Fee == b.Fee && string(a.Memo) == string(b.Memo) && a.Signature == b.Signature
}

func blockEqual(a, b *ledger.Block) bool {
	if a.Header != b.Header || len(a.Txs) != len(b.Txs) {
		return false
	}
	for i := range a.Txs {
		if !txEqual(a.Txs[i], b.Txs[i]) {
			return false
		}
	}
	return true
}
