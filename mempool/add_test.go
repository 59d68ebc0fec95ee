package mempool

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/synod-chain/synod/ledger"
)

// allSentinels are the errors Add can reject with; each rejection must
// match exactly one of them.
var allSentinels = []error{
	ErrNilTx, ErrDuplicate, ErrNonceTooFarAhead, ErrReplacementUnderpriced, ErrSenderFull, ErrMempoolFull,
	ledger.ErrTxWrongChain, ledger.ErrTxBadSignature, ledger.ErrTxBadSender, ledger.ErrTxMemoTooLarge,
	ledger.ErrTxAmountOverflow, ledger.ErrTxNonceTooLow, ledger.ErrTxInsufficientFunds,
}

// TestAddRejections checks that every way Add refuses a tx returns its own
// sentinel (and no other), by setting up one pool per case and adding the
// offending tx to it.
func TestAddRejections(t *testing.T) {
	cases := []struct {
		name  string
		cfg   func(*Config)
		setup []*ledger.Tx
		tx    func() *ledger.Tx
		want  error
	}{
		{name: "nil", tx: func() *ledger.Tx { return nil }, want: ErrNilTx},
		{name: "wrong chain", tx: func() *ledger.Tx {
			tx := &ledger.Tx{ChainID: "other", Nonce: 0, To: sink, Amount: 1, Fee: 1}
			tx.Sign(testKey(0))
			return tx
		}, want: ledger.ErrTxWrongChain},
		{name: "bad signature", tx: func() *ledger.Tx {
			tx := signedTx(0, 0, 1, 1)
			tx.Amount = 2
			return tx
		}, want: ledger.ErrTxBadSignature},
		{name: "small-order sender", tx: func() *ledger.Tx {
			tx := signedTx(0, 0, 1, 1)
			tx.From = [32]byte{1}
			return tx
		}, want: ledger.ErrTxBadSender},
		{name: "memo too large", tx: func() *ledger.Tx {
			return signedTxTo(0, 0, sink, 1, 1, make([]byte, ledger.TxMemoBytesMax+1))
		}, want: ledger.ErrTxMemoTooLarge},
		{name: "amount overflow", tx: func() *ledger.Tx { return signedTx(0, 0, 1<<63, 1<<63) }, want: ledger.ErrTxAmountOverflow},
		{name: "duplicate", setup: []*ledger.Tx{signedTx(0, 0, 1, 1)}, tx: func() *ledger.Tx { return signedTx(0, 0, 1, 1) }, want: ErrDuplicate},
		{name: "nonce too low", tx: func() *ledger.Tx { return signedTx(1, 2, 1, 1) }, want: ledger.ErrTxNonceTooLow},
		{name: "nonce too far ahead", tx: func() *ledger.Tx { return signedTx(0, 17, 1, 1) }, want: ErrNonceTooFarAhead},
		{name: "replacement underpriced", setup: []*ledger.Tx{signedTx(0, 0, 1, 100)},
			tx: func() *ledger.Tx { return signedTx(0, 0, 2, 109) }, want: ErrReplacementUnderpriced},
		{name: "sender full", cfg: func(c *Config) { c.PerSenderTxsMax = 2 },
			setup: []*ledger.Tx{signedTx(0, 0, 1, 1), signedTx(0, 5, 1, 1)},
			tx:    func() *ledger.Tx { return signedTx(0, 1, 1, 1) }, want: ErrSenderFull},
		{name: "insufficient funds alone", tx: func() *ledger.Tx { return signedTx(0, 0, 1000, 1) }, want: ledger.ErrTxInsufficientFunds},
		{name: "insufficient funds cumulative", setup: []*ledger.Tx{signedTx(0, 0, 600, 0)},
			tx: func() *ledger.Tx { return signedTx(0, 1, 400, 1) }, want: ledger.ErrTxInsufficientFunds},
		{name: "full by count", cfg: func(c *Config) { c.TxsMax = 1 }, setup: []*ledger.Tx{signedTx(2, 0, 1, 5)},
			tx: func() *ledger.Tx { return signedTx(0, 0, 1, 5) }, want: ErrMempoolFull},
		{name: "full by bytes", cfg: func(c *Config) { c.BytesMax = ledger.TxBytesMax },
			setup: []*ledger.Tx{signedTxTo(2, 0, sink, 1, 5, make([]byte, 200))},
			tx:    func() *ledger.Tx { return signedTxTo(0, 0, sink, 1, 5, make([]byte, 200)) }, want: ErrMempoolFull},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			chain := newTestChain(1000, 1000, 1000)
			chain.commit(t, signedTx(1, 0, 1, 1), signedTx(1, 1, 1, 1), signedTx(1, 2, 1, 1), signedTx(1, 3, 1, 1))
			cfg := testConfig()
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			m := newPool(t, cfg, chain.state)
			mustAdd(t, m, c.setup...)
			before := snapshotPending(m)
			err := m.Add(c.tx())
			if !errors.Is(err, c.want) {
				t.Fatalf("Add: %v, want %v", err, c.want)
			}
			for _, other := range allSentinels {
				if other != c.want && errors.Is(err, other) {
					t.Errorf("Add: %v also matches %v", err, other)
				}
			}
			if after := snapshotPending(m); len(after) != len(before) {
				t.Errorf("a rejected Add changed the pool: %d txs, was %d", len(after), len(before))
			}
			if err := m.checkInvariants(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestAddNextNonceBeyondWindowIsSenderLimit checks that a sender whose
// pending txs fill the nonce window without a gap is told it has too many
// pending (ErrSenderFull, which the RPC layer reports as the sender limit),
// not that its nonce leaves a gap: the tx carries exactly the nonce
// PendingNonce tells its wallet to use. A nonce past a real gap keeps
// ErrNonceTooFarAhead. Per-sender room is left above the window, as the
// node configures it (1,000 per sender, 64 ahead).
func TestAddNextNonceBeyondWindowIsSenderLimit(t *testing.T) {
	chain := newTestChain(1000, 1000)
	cfg := testConfig()
	cfg.NonceAheadMax = 3
	m := newPool(t, cfg, chain.state)
	mustAdd(t, m, signedTx(0, 0, 1, 1), signedTx(0, 1, 1, 1), signedTx(0, 2, 1, 1), signedTx(0, 3, 1, 1))
	if n, err := m.PendingNonce(testAddr(0)); err != nil || n != 4 {
		t.Fatalf("PendingNonce = %d, want 4", n)
	}
	err := m.Add(signedTx(0, 4, 1, 1))
	if !errors.Is(err, ErrSenderFull) || errors.Is(err, ErrNonceTooFarAhead) {
		t.Fatalf("next nonce past a full window: %v, want ErrSenderFull", err)
	}
	// Sender 1 has a gap at nonce 1: nonce 4 is past it, not its next.
	mustAdd(t, m, signedTx(1, 0, 1, 1), signedTx(1, 2, 1, 1), signedTx(1, 3, 1, 1))
	if err := m.Add(signedTx(1, 4, 1, 1)); !errors.Is(err, ErrNonceTooFarAhead) {
		t.Fatalf("nonce past a gap and the window: %v, want ErrNonceTooFarAhead", err)
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestAddSameTransferOtherSignature checks that a second encoding of a
// pending tx (same transfer, another signature, so another hash) is a
// duplicate, not a replacement, by handing the pool's internal path an
// entry whose signature bytes differ.
func TestAddSameTransferOtherSignature(t *testing.T) {
	chain := newTestChain(1000)
	m := newPool(t, testConfig(), chain.state)
	tx := signedTx(0, 0, 1, 1)
	mustAdd(t, m, tx)
	other := *tx
	other.Signature[0] ^= 1
	acct, _ := chain.state.GetAccount(testAddr(0))
	m.mu.Lock()
	err := m.addLocked(newEntry(&other), acct)
	m.mu.Unlock()
	if !errors.Is(err, ErrDuplicate) {
		t.Fatalf("same transfer, other signature: %v, want ErrDuplicate", err)
	}
}

// TestAddReadError checks that a failing state read is reported with the
// cause and keeps nothing, using a state that fails every read.
func TestAddReadError(t *testing.T) {
	m := newPool(t, testConfig(), failingState{})
	err := m.Add(signedTx(0, 0, 1, 1))
	if !errors.Is(err, errDisk) {
		t.Fatalf("Add: %v, want the read error", err)
	}
	if n, _ := m.Size(); n != 0 {
		t.Fatalf("pool holds %d txs after a failed read", n)
	}
	if _, err := m.PendingNonce(testAddr(0)); !errors.Is(err, errDisk) {
		t.Fatalf("PendingNonce: %v, want the read error", err)
	}
}

// TestAddKeepsOwnCopy checks that changing a tx after Add does not change
// the pending one, by mutating the caller's memo.
func TestAddKeepsOwnCopy(t *testing.T) {
	chain := newTestChain(1000)
	m := newPool(t, testConfig(), chain.state)
	tx := signedTxTo(0, 0, sink, 1, 1, []byte("memo"))
	h := tx.Hash()
	mustAdd(t, m, tx)
	tx.Memo[0] = 'X'
	got, ok := m.Get(h)
	if !ok || string(got.Memo) != "memo" || got.Hash() != h {
		t.Fatalf("pending tx changed with the caller's copy: %q", got.Memo)
	}
}

// TestErrorMessages checks that each rejection says what was wrong (the
// RPC layer shows it), by looking for the numbers that matter.
func TestErrorMessages(t *testing.T) {
	chain := newTestChain(1000)
	m := newPool(t, testConfig(), chain.state)
	mustAdd(t, m, signedTx(0, 0, 1, 100))
	checks := []struct {
		tx   *ledger.Tx
		want []string
	}{
		{signedTx(0, 0, 2, 105), []string{"fee 105", "pays 100", "at least 110"}},
		{signedTx(0, 40, 1, 1), []string{"nonce 40", "account nonce 0", "16 ahead"}},
		{signedTx(0, 1, 950, 1), []string{"balance 1000", "cost 101", "this one 951"}},
	}
	for _, c := range checks {
		err := m.Add(c.tx)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("error %v does not say %q", err, w)
			}
		}
	}
}

// TestConfigValidate checks that New refuses each out-of-range limit, by
// breaking one field of a valid config at a time.
func TestConfigValidate(t *testing.T) {
	breaks := map[string]func(*Config){
		"chain id":        func(c *Config) { c.ChainID = "" },
		"long chain id":   func(c *Config) { c.ChainID = strings.Repeat("x", 65) },
		"txs":             func(c *Config) { c.TxsMax = 0 },
		"bytes":           func(c *Config) { c.BytesMax = ledger.TxBytesMax - 1 },
		"per sender":      func(c *Config) { c.PerSenderTxsMax = 0 },
		"per sender high": func(c *Config) { c.PerSenderTxsMax = PerSenderTxsCeiling + 1 },
		"bump":            func(c *Config) { c.ReplaceFeeBumpPercent = 0 },
		"bump high":       func(c *Config) { c.ReplaceFeeBumpPercent = 101 },
		"rebroadcast":     func(c *Config) { c.RebroadcastTxsMax = 0 },
	}
	if _, err := New(testConfig(), ledger.NewMemState()); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if _, err := New(testConfig(), nil); !errors.Is(err, ErrConfig) {
		t.Errorf("nil state: %v, want ErrConfig", err)
	}
	for name, brk := range breaks {
		cfg := testConfig()
		brk(&cfg)
		if _, err := New(cfg, ledger.NewMemState()); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

// TestMinReplacementFee checks the bump rule at its edges: rounding up,
// at least one unit, and no replacement once the bump overflows.
func TestMinReplacementFee(t *testing.T) {
	cfg := testConfig()
	cases := []struct {
		old, want uint64
		ok        bool
	}{
		{0, 1, true}, {1, 2, true}, {9, 10, true}, {10, 11, true}, {100, 110, true}, {101, 112, true},
		{1 << 40, 1<<40 + (1<<40+9)/10, true}, {^uint64(0) - 1, 0, false}, {^uint64(0), 0, false},
	}
	for _, c := range cases {
		got, ok := cfg.minReplacementFee(c.old)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("minReplacementFee(%d) = %d, %v; want %d, %v", c.old, got, ok, c.want, c.ok)
		}
	}
	cfg.ReplaceFeeBumpPercent = 100
	if got, _ := cfg.minReplacementFee(^uint64(0) / 2); got != ^uint64(0)-1 {
		t.Errorf("100%% of MaxUint64/2: %d", got)
	}
}

// TestAddFullReportsPoolSize checks that a tx a full pool turns away
// before its signature check is told what the pool holds, as one refused
// after it is, not the limits dressed as its contents: an operator
// reading "1 txs, 1048576 bytes" looks for a megabyte that is not there.
func TestAddFullReportsPoolSize(t *testing.T) {
	chain := newTestChain(1000, 1000)
	cfg := testConfig()
	cfg.TxsMax = 1
	m := newPool(t, cfg, chain.state)
	held := signedTx(0, 0, 1, 5)
	mustAdd(t, m, held)
	err := m.Add(signedTx(1, 0, 1, 5))
	if !errors.Is(err, ErrMempoolFull) {
		t.Fatalf("Add: %v, want ErrMempoolFull", err)
	}
	if want := fmt.Sprintf("1 txs, %d bytes", held.EncodedLen()); !strings.Contains(err.Error(), want) {
		t.Fatalf("Add: %q, want it to say %q", err, want)
	}
}
