package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/synod-chain/synod/crypto"
)

// Account is the state of one address. An account with zero balance and
// zero nonce is empty: it is not in the state at all, so touching an
// account without changing it never changes the state root.
type Account struct {
	Balance uint64
	Nonce   uint64
}

// IsEmpty reports whether a is the empty account.
func (a Account) IsEmpty() bool { return a == Account{} }

// AccountBytes is the size of an encoded Account.
const AccountBytes = 16

// EncodeAccount returns the 16-byte encoding of a.
func EncodeAccount(a Account) []byte {
	e := encoder{buf: make([]byte, 0, AccountBytes)}
	e.u64(a.Balance)
	e.u64(a.Nonce)
	return e.buf
}

// DecodeAccount reads an account written by EncodeAccount.
func DecodeAccount(b []byte) (Account, error) {
	d := decoder{buf: b}
	a := Account{Balance: d.u64("balance"), Nonce: d.u64("nonce")}
	return a, d.finish("account")
}

// StateReader is a read-only view of account state: the store's committed
// state, an in-memory state, or a speculative diff layered on either.
type StateReader interface {
	// GetAccount returns the account at addr (the empty account if none).
	GetAccount(addr crypto.Address) (Account, error)
	// StateHash returns the state's accumulator.
	StateHash() LtHash
}

// StateDiff is the effect of executing one block: the new value of every
// account it changed, and the resulting state hash. A diff layered over
// the state it was computed on (Over) reads as the state after the block,
// which lets a replica validate block h+1 before block h commits.
type StateDiff struct {
	Accounts map[crypto.Address]Account
	Hash     LtHash
	// Fees is the total paid to the proposer.
	Fees uint64
}

// Root is the state root after the block.
func (d *StateDiff) Root() crypto.Hash { return d.Hash.Root() }

// Addresses returns the changed addresses in ascending order, so writes of
// a diff happen in a deterministic order.
func (d *StateDiff) Addresses() []crypto.Address {
	addrs := make([]crypto.Address, 0, len(d.Accounts))
	for a := range d.Accounts {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, func(x, y crypto.Address) int { return bytes.Compare(x[:], y[:]) })
	return addrs
}

// Over returns the state after this diff applied to base (which must be the
// state the diff was computed on).
func (d *StateDiff) Over(base StateReader) StateReader { return overlay{diff: d, base: base} }

type overlay struct {
	diff *StateDiff
	base StateReader
}

func (o overlay) GetAccount(addr crypto.Address) (Account, error) {
	if a, ok := o.diff.Accounts[addr]; ok {
		return a, nil
	}
	return o.base.GetAccount(addr)
}

func (o overlay) StateHash() LtHash { return o.diff.Hash }

// MemState is an in-memory account state, for tests and the simulator.
type MemState struct {
	accounts map[crypto.Address]Account
	hash     LtHash
}

// NewMemState returns an empty state.
func NewMemState() *MemState { return &MemState{accounts: make(map[crypto.Address]Account)} }

// GetAccount implements StateReader.
func (m *MemState) GetAccount(addr crypto.Address) (Account, error) { return m.accounts[addr], nil }

// StateHash implements StateReader.
func (m *MemState) StateHash() LtHash { return m.hash }

// Apply writes a diff computed on m into m.
func (m *MemState) Apply(d *StateDiff) {
	for addr, a := range d.Accounts {
		if a.IsEmpty() {
			delete(m.accounts, addr)
		} else {
			m.accounts[addr] = a
		}
	}
	m.hash = d.Hash
}

// Accounts returns a copy of every non-empty account.
func (m *MemState) Accounts() map[crypto.Address]Account {
	out := make(map[crypto.Address]Account, len(m.accounts))
	for k, v := range m.accounts {
		out[k] = v
	}
	return out
}

// executor accumulates a block's changes over a base state.
type executor struct {
	base    StateReader
	changed map[crypto.Address]Account
	// before holds every account read from base, as it was there: diff
	// needs the old leaf of each changed account, and reading it again
	// from the store would double the reads.
	before map[crypto.Address]Account
}

func newExecutor(base StateReader, sizeHint int) *executor {
	return &executor{base: base, changed: make(map[crypto.Address]Account, sizeHint), before: make(map[crypto.Address]Account, sizeHint)}
}

func (x *executor) get(addr crypto.Address) (Account, error) {
	if a, ok := x.changed[addr]; ok {
		return a, nil
	}
	if a, ok := x.before[addr]; ok {
		return a, nil
	}
	a, err := x.base.GetAccount(addr)
	if err != nil {
		return Account{}, fmt.Errorf("%w: read account %s: %w", ErrLocalState, addr, err)
	}
	x.before[addr] = a
	return a, nil
}

// applyTx applies one statelessly-checked tx, or returns why it cannot be
// applied and changes nothing: every read and check happens before the
// first write, so a failed read never leaves a half-applied tx behind.
// Errors that are the tx's fault wrap a rule sentinel (isTxRuleError); any
// other error is this node's (a failed read, a corrupt state) and wraps
// ErrLocalState.
func (x *executor) applyTx(tx *Tx) error {
	from := tx.Sender()
	sender, err := x.get(from)
	if err != nil {
		return err
	}
	switch {
	case tx.Nonce < sender.Nonce:
		return fmt.Errorf("%w: nonce %d, account nonce %d", ErrTxNonceTooLow, tx.Nonce, sender.Nonce)
	case tx.Nonce > sender.Nonce:
		return fmt.Errorf("%w: nonce %d, account nonce %d", ErrTxNonceGap, tx.Nonce, sender.Nonce)
	}
	cost, _ := tx.Cost() // overflow excluded by CheckTx
	if sender.Balance < cost {
		return fmt.Errorf("%w: balance %d, need %d", ErrTxInsufficientFunds, sender.Balance, cost)
	}
	sender.Balance -= cost
	sender.Nonce++
	if tx.To == from {
		sender.Balance += tx.Amount // a self-transfer pays only the fee
	}
	if tx.To == from || tx.Amount == 0 {
		x.changed[from] = sender
		return nil
	}
	recipient, err := x.get(tx.To)
	if err != nil {
		return err
	}
	if recipient.Balance+tx.Amount < recipient.Balance {
		return errBalanceOverflow(tx.To)
	}
	recipient.Balance += tx.Amount
	x.changed[from] = sender
	x.changed[tx.To] = recipient
	return nil
}

// errBalanceOverflow: supply is conserved and fits in uint64, so a balance
// that would overflow means the state is corrupt; refuse rather than wrap.
func errBalanceOverflow(addr crypto.Address) error {
	return fmt.Errorf("%w: balance of %s overflows (corrupt state)", ErrLocalState, addr)
}

// isTxRuleError reports whether err is a tx's own fault on this state, as
// opposed to a failure of the node reading it.
func isTxRuleError(err error) bool {
	return errors.Is(err, ErrTxNonceTooLow) || errors.Is(err, ErrTxNonceGap) || errors.Is(err, ErrTxInsufficientFunds)
}

func (x *executor) credit(addr crypto.Address, amount uint64) error {
	if amount == 0 {
		return nil
	}
	a, err := x.get(addr)
	if err != nil {
		return err
	}
	if a.Balance+amount < a.Balance {
		return errBalanceOverflow(addr)
	}
	a.Balance += amount
	x.changed[addr] = a
	return nil
}

// diff computes the new state hash by replacing the leaf of each changed
// account: O(changed accounts), whatever the size of the state.
func (x *executor) diff(fees uint64) (*StateDiff, error) {
	type change struct {
		addr        crypto.Address
		before, now Account
	}
	changes := make([]change, 0, len(x.changed))
	for addr, now := range x.changed {
		before, ok := x.before[addr]
		if !ok {
			panic(fmt.Sprintf("ledger: account %s changed without being read", addr))
		}
		if before != now {
			changes = append(changes, change{addr, before, now})
		}
	}
	// Leaf expansions are independent and the hash is a sum, so a large
	// block spreads them over the cores; the result does not depend on
	// how they are split. The caller hashes the first share itself rather
	// than wait idle: on a busy machine a helper goroutine may wait to be
	// scheduled, and the caller's own share keeps it working meanwhile.
	workers := min(runtime.GOMAXPROCS(0), max(1, len(changes)/ltHashParallelMin))
	deltas := make([]LtHash, workers)
	hashShare := func(w int) {
		scratch := new([LtHashBytes]byte)
		for i := w; i < len(changes); i += workers {
			c := changes[i]
			if !c.before.IsEmpty() {
				deltas[w].addAccount(c.addr, c.before, true, scratch)
			}
			if !c.now.IsEmpty() {
				deltas[w].addAccount(c.addr, c.now, false, scratch)
			}
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Go(func() { hashShare(w) })
	}
	hashShare(0)
	wg.Wait()
	d := &StateDiff{Accounts: x.changed, Hash: x.base.StateHash(), Fees: fees}
	for i := range deltas {
		d.Hash.addHash(&deltas[i])
	}
	return d, nil
}

// ltHashParallelMin is the number of changed accounts per worker below
// which spreading the leaf hashing over goroutines costs more than it saves.
const ltHashParallelMin = 64
