package ledger

import (
	"errors"
	"fmt"

	"github.com/synod-chain/synod/crypto"
)

// Block validation errors.
var (
	ErrBlockInvalid  = errors.New("block: invalid")
	ErrBlockBadTx    = errors.New("block: contains an invalid tx")
	ErrBlockBadRoots = errors.New("block: root mismatch")
)

// ErrLocalState wraps a failure of this node's own state met while
// executing a block: a store read that failed (an I/O error, a corrupt
// record, a closed store), or a state no valid chain reaches (a balance
// that overflows, when supply is conserved and fits). It says nothing
// about the block, so a caller must not blame the block's proposer for
// it; and a node whose state fails cannot go on (fail-stop).
var ErrLocalState = errors.New("ledger: local state failed")

// ExecuteBlock applies every tx of b on top of base, whose state is that
// after b's parent, and returns the resulting diff. Fees are credited to
// the proposer after the last tx. A block with any invalid tx is rejected
// whole and nothing changes: a correct primary never proposes one. Tx
// signatures are verified in one batch.
func ExecuteBlock(chainID string, base StateReader, b *Block) (*StateDiff, error) {
	return executeBlock(chainID, base, b, nil)
}

func executeBlock(chainID string, base StateReader, b *Block, cache *SigCache) (*StateDiff, error) {
	if bad, err := checkBlockTxs(chainID, b, cache); err != nil {
		return nil, fmt.Errorf("%w: tx %d: %w", ErrBlockBadTx, bad, err)
	}
	return executeChecked(base, b)
}

// checkBlockTxs is the stateless check of b's txs: CheckTxsCached, or for
// a block cache vouches for, only the fields no signature covers the
// checking of (chain id, memo size, amount overflow). The sender keys and
// signatures are what the certificate vouches for. Callers check b's txs
// against its tx root first, so a vouched hash means these very txs.
func checkBlockTxs(chainID string, b *Block, cache *SigCache) (bad int, err error) {
	if !cache.Vouched(b.Hash()) {
		return CheckTxsCached(chainID, b.Txs, cache)
	}
	for i, tx := range b.Txs {
		if err := checkTxPlainFields(chainID, tx); err != nil {
			return i, err
		}
	}
	return -1, nil
}

// executeChecked applies the txs of b, whose stateless checks have passed.
func executeChecked(base StateReader, b *Block) (*StateDiff, error) {
	x := newExecutor(base, 2*len(b.Txs)+1)
	var fees uint64
	for i, tx := range b.Txs {
		if err := x.applyTx(tx); err != nil {
			if isTxRuleError(err) {
				return nil, fmt.Errorf("%w: tx %d (%s): %w", ErrBlockBadTx, i, tx.Hash().Short(), err)
			}
			return nil, fmt.Errorf("execute tx %d (%s): %w", i, tx.Hash().Short(), err)
		}
		fees += tx.Fee // cannot overflow: the fees were all debited from balances
	}
	if err := x.credit(b.Header.Proposer, fees); err != nil {
		return nil, err
	}
	return x.diff(fees)
}

// ValidateBlock checks b fully as the successor of parent: header fields,
// limits, tx root, every tx, and the state root after executing it on base
// (the state after parent). It returns the diff to apply if b commits.
func ValidateBlock(chainID string, params ConsensusParams, parent *Header, base StateReader, b *Block) (*StateDiff, error) {
	return validateBlock(chainID, params, parent, base, b, nil)
}

func validateBlock(chainID string, params ConsensusParams, parent *Header, base StateReader, b *Block, cache *SigCache) (*StateDiff, error) {
	if err := validateHeader(chainID, params, parent, b); err != nil {
		return nil, err
	}
	if root := MerkleRoot(b.TxHashes()); root != b.Header.TxRoot {
		return nil, fmt.Errorf("%w: tx root %s, computed %s", ErrBlockBadRoots, b.Header.TxRoot.Short(), root.Short())
	}
	diff, err := executeBlock(chainID, base, b, cache)
	if err != nil {
		return nil, err
	}
	if root := diff.Root(); root != b.Header.StateRoot {
		return nil, fmt.Errorf("%w: state root %s, computed %s", ErrBlockBadRoots, b.Header.StateRoot.Short(), root.Short())
	}
	return diff, nil
}

func validateHeader(chainID string, params ConsensusParams, parent *Header, b *Block) error {
	h := &b.Header
	switch {
	case h.ChainID != chainID:
		return fmt.Errorf("%w: chain id %q, want %q", ErrBlockInvalid, h.ChainID, chainID)
	case h.Height != parent.Height+1:
		return fmt.Errorf("%w: height %d after parent %d", ErrBlockInvalid, h.Height, parent.Height)
	case h.ParentHash != parent.Hash():
		return fmt.Errorf("%w: parent hash %s, want %s", ErrBlockInvalid, h.ParentHash.Short(), parent.Hash().Short())
	case h.Timestamp < parent.Timestamp:
		return fmt.Errorf("%w: timestamp %d before parent's %d", ErrBlockInvalid, h.Timestamp, parent.Timestamp)
	case len(b.Txs) > int(params.BlockTxsMax):
		return fmt.Errorf("%w: %d txs exceeds %d", ErrBlockInvalid, len(b.Txs), params.BlockTxsMax)
	}
	if size := b.EncodedSize(); size > int(params.BlockBytesMax) {
		return fmt.Errorf("%w: %d bytes exceeds %d", ErrBlockInvalid, size, params.BlockBytesMax)
	}
	return nil
}

// EncodedSize is len(b.Encode()) without encoding the block.
func (b *Block) EncodedSize() int {
	n := len(EncodeHeader(&b.Header)) + 4
	for _, tx := range b.Txs {
		n += 2 + txEncodedSize(tx)
	}
	return n
}

func txEncodedSize(tx *Tx) int {
	return 1 + 1 + len(tx.ChainID) + crypto.PublicKeyBytes + 8 + crypto.AddressBytes + 8 + 8 + 2 + len(tx.Memo) + crypto.SignatureBytes
}

// BlockTemplate is what a primary knows when it builds a block.
type BlockTemplate struct {
	ChainID   string
	Params    ConsensusParams
	Parent    *Header
	View      uint64
	Proposer  crypto.Address
	Timestamp int64
}

// BuildBlock makes the block a primary proposes: candidates in order,
// skipping any that is invalid on the state so far (wrong nonce, too
// poor, bad signature), up to the block's tx and byte limits. It returns
// the block and its diff over base. Candidates must be grouped so each
// sender's txs come in nonce order; the mempool reaps them that way.
func BuildBlock(t BlockTemplate, base StateReader, candidates []*Tx) (*Block, *StateDiff, error) {
	return buildBlock(t, base, candidates, nil)
}

func buildBlock(t BlockTemplate, base StateReader, candidates []*Tx, cache *SigCache) (*Block, *StateDiff, error) {
	b := &Block{Header: Header{
		ChainID:    t.ChainID,
		Height:     t.Parent.Height + 1,
		View:       t.View,
		ParentHash: t.Parent.Hash(),
		Proposer:   t.Proposer,
		Timestamp:  max(t.Timestamp, t.Parent.Timestamp),
	}}
	size := len(EncodeHeader(&b.Header)) + 4
	ok := checkedTxs(t.ChainID, candidates, cache)
	x := newExecutor(base, 2*len(candidates)+1)
	var fees uint64
	for i, tx := range candidates {
		if len(b.Txs) == int(t.Params.BlockTxsMax) {
			break
		}
		txSize := 2 + txEncodedSize(tx)
		if !ok[i] || size+txSize > int(t.Params.BlockBytesMax) {
			continue
		}
		if err := x.applyTx(tx); err != nil {
			if isTxRuleError(err) {
				continue // not executable on this state: leave it for later
			}
			return nil, nil, fmt.Errorf("build block: tx %s: %w", tx.Hash().Short(), err)
		}
		b.Txs = append(b.Txs, tx)
		size += txSize
		fees += tx.Fee
	}
	if err := x.credit(t.Proposer, fees); err != nil {
		return nil, nil, err
	}
	diff, err := x.diff(fees)
	if err != nil {
		return nil, nil, err
	}
	b.Header.TxRoot = MerkleRoot(b.TxHashes())
	b.Header.StateRoot = diff.Root()
	return b, diff, nil
}

// checkedTxs runs the stateless checks on every candidate, signatures in
// one batch (skipping those cache knows), and reports which passed.
func checkedTxs(chainID string, txs []*Tx, cache *SigCache) []bool {
	ok := make([]bool, len(txs))
	batch := crypto.NewBatchVerifier(len(txs))
	idx := make([]int, 0, len(txs))
	for i, tx := range txs {
		if checkTxFields(chainID, tx) != nil {
			continue
		}
		if cache != nil && cache.Contains(tx.Hash()) {
			ok[i] = true
			continue
		}
		batch.Add(tx.From, crypto.DomainTx, tx.ChainID, tx.SigningBytes(), tx.Signature)
		idx = append(idx, i)
	}
	_, valid := batch.Verify()
	for j, i := range idx {
		ok[i] = valid[j]
		if valid[j] && cache != nil {
			cache.Add(txs[i].Hash())
		}
	}
	return ok
}

// GenesisBlock returns the block at height 0 and the genesis state's diff
// over the empty state. The block has no txs; its parent hash is the
// genesis document's hash, tying the chain to its document.
func GenesisBlock(g *Genesis) (*Block, *StateDiff) {
	x := newExecutor(NewMemState(), len(g.Accounts))
	for _, a := range g.Accounts {
		if err := x.credit(a.Address, uint64(a.Amount)); err != nil {
			panic(fmt.Sprintf("genesis: %v (Validate was not called)", err))
		}
	}
	diff, err := x.diff(0)
	if err != nil {
		panic(fmt.Sprintf("genesis: %v", err))
	}
	b := &Block{Header: Header{
		ChainID:    g.ChainID,
		Height:     0,
		ParentHash: g.Hash(),
		TxRoot:     MerkleRoot(nil),
		StateRoot:  diff.Root(),
		Timestamp:  g.GenesisTime.UnixMilli(),
	}}
	return b, diff
}
