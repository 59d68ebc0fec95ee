// Package rpctest provides a deterministic in-memory rpc.Backend for tests
// of the RPC server, the Go client and the wallet CLI: a real ledger.Store
// on an in-memory file system, a small mempool with the rejections a real
// one makes, real commit certificates signed by fixed validator keys, and
// block events. Keys, genesis and timestamps are fixed, so the same calls
// always give the same hashes.
//
// It is test support, not a node: blocks commit when the test says so
// (Commit) or, with AutoCommit, right after each accepted tx.
package rpctest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
)

// Fixed parameters of the test chain.
const (
	ChainID          = "synod-test"
	ValidatorCount   = 4
	FundedAccounts   = 3
	InitialBalance   = 1_000_000_000
	BlockIntervalMs  = 1000
	PoolTxsMax       = 64
	EventsBufferMax  = 64
	genesisUnixMilli = 1_767_225_600_000 // 2026-01-01T00:00:00Z
)

// Key returns fixed account key i (accounts 0..FundedAccounts-1 are funded
// at genesis).
func Key(i int) crypto.PrivateKey { return seededKey(byte(i + 1)) }

// Address is the address of Key(i).
func Address(i int) crypto.Address { return Key(i).Public().Address() }

// ValidatorKey returns fixed validator key i.
func ValidatorKey(i int) crypto.PrivateKey { return seededKey(byte(0x80 + i)) }

func seededKey(b byte) crypto.PrivateKey {
	seed := make([]byte, crypto.SeedBytes)
	for i := range seed {
		seed[i] = b
	}
	k, err := crypto.PrivateKeyFromSeed(seed)
	if err != nil {
		panic(err) // 32 bytes always make a key
	}
	return k
}

// Transfer returns a signed transfer from Key(from) on the test chain.
func Transfer(from int, nonce uint64, to crypto.Address, amount, fee uint64) *ledger.Tx {
	tx := &ledger.Tx{ChainID: ChainID, Nonce: nonce, To: to, Amount: amount, Fee: fee}
	tx.Sign(Key(from))
	return tx
}

// Genesis is the test chain's genesis document.
func Genesis() *ledger.Genesis {
	g := &ledger.Genesis{
		ChainID:     ChainID,
		GenesisTime: time.UnixMilli(genesisUnixMilli).UTC(),
		Consensus:   ledger.DefaultConsensusParams(),
	}
	for i := range ValidatorCount {
		g.Validators = append(g.Validators, ledger.Validator{
			Name: fmt.Sprintf("val%d", i), PublicKey: ValidatorKey(i).Public(),
		})
	}
	for i := range FundedAccounts {
		g.Accounts = append(g.Accounts, ledger.GenesisAccount{Address: Address(i), Amount: InitialBalance})
	}
	return g
}

// Backend is the fake node. The embedded *ledger.Store is the chain
// reader, as in the real node.
type Backend struct {
	*ledger.Store
	genesis *ledger.Genesis
	vals    *ledger.ValidatorSet

	// AutoCommit, when set before use, commits a block after every
	// accepted tx.
	AutoCommit bool

	commitMu sync.Mutex // one Commit at a time

	mu      sync.Mutex
	pending []*ledger.Tx
	healthy bool
	reason  string
	view    uint64
	subs    map[int]chan *ledger.Block
	nextSub int
	dropped int
}

// New opens a fresh test chain at its genesis block.
func New() (*Backend, error) {
	g := Genesis()
	if err := g.Validate(); err != nil {
		return nil, err
	}
	vals, err := g.ValidatorSet()
	if err != nil {
		return nil, err
	}
	st, err := ledger.OpenStore("rpctest", ledger.StoreOptions{ChainID: ChainID, FS: vfs.NewMem()})
	if err != nil {
		return nil, err
	}
	if err := st.InitGenesis(g); err != nil {
		st.Close()
		return nil, err
	}
	return &Backend{Store: st, genesis: g, vals: vals, healthy: true, subs: make(map[int]chan *ledger.Block)}, nil
}

var _ rpc.Backend = (*Backend)(nil)

// ChainID implements rpc.NodeInfo.
func (b *Backend) ChainID() string { return ChainID }

// SubmitTx implements rpc.TxPool with a real mempool's checks: stateless
// (ledger.CheckTx), duplicate, nonce against committed and pending,
// replacement by fee, balance counting pending costs, pool size.
func (b *Backend) SubmitTx(tx *ledger.Tx) error {
	if err := b.admit(tx); err != nil {
		return err
	}
	if b.AutoCommit {
		if _, err := b.Commit(); err != nil {
			return fmt.Errorf("rpctest: auto commit: %w", err)
		}
	}
	return nil
}

func (b *Backend) admit(tx *ledger.Tx) error {
	if err := ledger.CheckTx(ChainID, tx); err != nil {
		return err
	}
	hash := tx.Hash()
	if _, _, _, err := b.Store.Tx(hash); err == nil {
		return fmt.Errorf("%w: %s is committed", rpc.ErrTxDuplicate, hash.Short())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	acct, err := b.Store.GetAccount(tx.Sender())
	if err != nil {
		return err
	}
	next, spent := acct.Nonce, uint64(0)
	replace := -1
	for i, p := range b.pending {
		if p.Hash() == hash {
			return fmt.Errorf("%w: %s is pending", rpc.ErrTxDuplicate, hash.Short())
		}
		if p.Sender() != tx.Sender() {
			continue
		}
		if p.Nonce == tx.Nonce {
			replace = i
			continue
		}
		cost, _ := p.Cost()
		spent += cost
		next = max(next, p.Nonce+1)
	}
	switch {
	case tx.Nonce < acct.Nonce:
		return fmt.Errorf("%w: nonce %d, account nonce %d", ledger.ErrTxNonceTooLow, tx.Nonce, acct.Nonce)
	case replace >= 0 && tx.Fee <= b.pending[replace].Fee:
		return fmt.Errorf("%w: fee %d does not exceed pending fee %d", rpc.ErrTxUnderpriced, tx.Fee, b.pending[replace].Fee)
	case replace < 0 && tx.Nonce > next:
		return fmt.Errorf("%w: nonce %d, next is %d", ledger.ErrTxNonceGap, tx.Nonce, next)
	}
	cost, _ := tx.Cost()
	if acct.Balance < spent || acct.Balance-spent < cost {
		return fmt.Errorf("%w: balance %d, pending %d, need %d", ledger.ErrTxInsufficientFunds, acct.Balance, spent, cost)
	}
	if replace >= 0 {
		b.pending[replace] = tx
		return nil
	}
	if len(b.pending) >= PoolTxsMax {
		return fmt.Errorf("%w: %d txs", rpc.ErrMempoolFull, PoolTxsMax)
	}
	b.pending = append(b.pending, tx)
	return nil
}

// PendingTx implements rpc.TxPool.
func (b *Backend) PendingTx(h crypto.Hash) (*ledger.Tx, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.pending {
		if p.Hash() == h {
			return p, true
		}
	}
	return nil, false
}

// PendingNonce implements rpc.TxPool.
func (b *Backend) PendingNonce(addr crypto.Address) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var next uint64
	for _, p := range b.pending {
		if p.Sender() == addr {
			next = max(next, p.Nonce+1)
		}
	}
	return next, nil
}

// Commit builds a block of the pending txs (in nonce order per sender),
// certifies it with a quorum of validator signatures, applies it to the
// store and publishes it. It returns the block.
func (b *Backend) Commit() (*ledger.Block, error) {
	b.commitMu.Lock()
	defer b.commitMu.Unlock()
	b.mu.Lock()
	candidates := slices.Clone(b.pending)
	view := b.view
	b.mu.Unlock()
	// Group by sender in order of first arrival, each sender's txs by
	// nonce, as BuildBlock expects.
	first := make(map[crypto.Address]int)
	for i, tx := range candidates {
		if _, ok := first[tx.Sender()]; !ok {
			first[tx.Sender()] = i
		}
	}
	slices.SortStableFunc(candidates, func(x, y *ledger.Tx) int {
		if c := cmp.Compare(first[x.Sender()], first[y.Sender()]); c != 0 {
			return c
		}
		return cmp.Compare(x.Nonce, y.Nonce)
	})
	head := b.Store.Head()
	proposer := b.vals.At(b.vals.Primary(view)).Address()
	tmpl := ledger.BlockTemplate{
		ChainID: ChainID, Params: b.genesis.Consensus, Parent: &head, View: view,
		Proposer: proposer, Timestamp: genesisUnixMilli + int64(head.Height+1)*BlockIntervalMs,
	}
	block, diff, err := ledger.BuildBlock(tmpl, b.Store, candidates)
	if err != nil {
		return nil, err
	}
	if err := b.Store.ApplyBlock(block, b.certify(block), diff); err != nil {
		return nil, err
	}
	b.mu.Lock()
	included := make(map[crypto.Hash]bool, len(block.Txs))
	for _, tx := range block.Txs {
		included[tx.Hash()] = true
	}
	b.pending = slices.DeleteFunc(b.pending, func(tx *ledger.Tx) bool { return included[tx.Hash()] })
	b.publishLocked(block)
	b.mu.Unlock()
	return block, nil
}

// certify signs a commit certificate for block with the first quorum of
// validators.
func (b *Backend) certify(block *ledger.Block) *ledger.CommitCertificate {
	cert := &ledger.CommitCertificate{Height: block.Header.Height, View: block.Header.View, BlockHash: block.Hash()}
	msg := ledger.CommitVoteBytes(cert.Height, cert.View, cert.BlockHash)
	for i := range b.vals.Quorum() {
		cert.Signatures = append(cert.Signatures, ledger.CommitSignature{
			Validator: uint16(i), Signature: ValidatorKey(i).Sign(crypto.DomainConsensus, ChainID, msg),
		})
	}
	return cert
}

// publishLocked sends block to every subscriber without blocking; a full
// subscriber misses it (counted in Dropped), as a node must never wait on
// its RPC server.
func (b *Backend) publishLocked(block *ledger.Block) {
	for _, ch := range b.subs {
		select {
		case ch <- block:
		default:
			b.dropped++
		}
	}
}

// SubscribeBlocks implements rpc.Events.
func (b *Backend) SubscribeBlocks() (<-chan *ledger.Block, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.nextSub
	b.nextSub++
	ch := make(chan *ledger.Block, EventsBufferMax)
	b.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, id)
			b.mu.Unlock()
		})
	}
}

// Subscribers is the number of open block subscriptions.
func (b *Backend) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Dropped counts blocks a full subscriber missed.
func (b *Backend) Dropped() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// SetHealth sets what Healthy reports.
func (b *Backend) SetHealth(ok bool, reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.healthy, b.reason = ok, reason
}

// SetView sets the consensus view reported by Status (and used as the
// view of the next block).
func (b *Backend) SetView(v uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.view = v
}

// Healthy implements rpc.NodeInfo.
func (b *Backend) Healthy() (bool, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.healthy, b.reason
}

// Status implements rpc.NodeInfo.
func (b *Backend) Status() rpc.NodeStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return rpc.NodeStatus{
		ChainID: ChainID, NodeID: "12D3KooWTestNode", Moniker: "rpctest",
		Height: b.Store.Head().Height, View: b.view, Primary: b.vals.Primary(b.view),
		Validators: b.vals.Len(), F: b.vals.F(), Peers: ValidatorCount - 1,
		Syncing: !b.healthy && b.reason == "syncing", MempoolSize: len(b.pending),
	}
}

// Validators implements rpc.NodeInfo.
func (b *Backend) Validators() []rpc.ValidatorInfo {
	all := b.vals.All()
	out := make([]rpc.ValidatorInfo, len(all))
	for i, v := range all {
		out[i] = rpc.ValidatorInfo{Name: v.Name, Address: v.Address(), PublicKey: v.PublicKey, PeerID: fmt.Sprintf("12D3KooWVal%d", i)}
	}
	return out
}

// OMBackend is a Backend that also implements rpc.OMReporter, with a
// report made of the committed state roots.
type OMBackend struct{ *Backend }

// OMReport implements rpc.OMReporter.
func (b OMBackend) OMReport(at rpc.BlockTag) (any, error) {
	height := at.Height
	if at.Latest {
		height = b.Store.Head().Height
	}
	block, err := b.Store.BlockByHeight(height)
	if errors.Is(err, ledger.ErrStoreNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"height": height, "stateRoot": block.Header.StateRoot, "agree": ValidatorCount}, nil
}

var _ rpc.OMReporter = OMBackend{}
