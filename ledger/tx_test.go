package ledger_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// executeOne runs a one-tx block on c's state through ExecuteBlock.
func executeOne(c *chainAt, tx *ledger.Tx) error {
	b := &ledger.Block{Header: ledger.Header{ChainID: testChain, Height: c.head.Height + 1}, Txs: []*ledger.Tx{tx}}
	_, err := ledger.ExecuteBlock(testChain, c.state, b)
	return err
}

// TestTxReplayIsNonceTooLow checks that a committed tx cannot apply twice:
// it commits a transfer, then executes the very same tx again.
func TestTxReplayIsNonceTooLow(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	tx := signedTx(testChain, testKey(0), 0, testAddr(1), 10, 1, nil)
	b, _ := c.build(t, testAddr(0), []*ledger.Tx{tx})
	if len(b.Txs) != 1 {
		t.Fatalf("fixture: BuildBlock skipped a valid tx")
	}
	c.commit(t, b)
	err := executeOne(c, tx)
	if !errors.Is(err, ledger.ErrTxNonceTooLow) || !errors.Is(err, ledger.ErrBlockBadTx) {
		t.Fatalf("replay: err = %v, want ErrTxNonceTooLow", err)
	}
	// A different tx with the same sender and nonce is a replay of the nonce.
	again := signedTx(testChain, testKey(0), 0, testAddr(2), 1, 0, []byte("other"))
	if err := executeOne(c, again); !errors.Is(err, ledger.ErrTxNonceTooLow) {
		t.Fatalf("reused nonce: err = %v, want ErrTxNonceTooLow", err)
	}
}

// TestTxNonceGap checks that a nonce above the account's is refused, so
// txs apply in the order their sender numbered them.
func TestTxNonceGap(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	for _, nonce := range []uint64{1, 2, math.MaxUint64} {
		tx := signedTx(testChain, testKey(0), nonce, testAddr(1), 1, 0, nil)
		if err := executeOne(c, tx); !errors.Is(err, ledger.ErrTxNonceGap) {
			t.Fatalf("nonce %d on a fresh account: err = %v, want ErrTxNonceGap", nonce, err)
		}
	}
}

// TestTxWrongChain checks that a tx signed for another chain is refused by
// CheckTx and by block execution, even though its signature is valid there.
func TestTxWrongChain(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	tx := signedTx("synod-other", testKey(0), 0, testAddr(1), 1, 0, nil)
	if err := ledger.CheckTx("synod-other", tx); err != nil {
		t.Fatalf("fixture: tx invalid on its own chain: %v", err)
	}
	if err := ledger.CheckTx(testChain, tx); !errors.Is(err, ledger.ErrTxWrongChain) {
		t.Fatalf("CheckTx: err = %v, want ErrTxWrongChain", err)
	}
	if err := executeOne(c, tx); !errors.Is(err, ledger.ErrTxWrongChain) {
		t.Fatalf("ExecuteBlock: err = %v, want ErrTxWrongChain", err)
	}
	// Relabelling the tx does not help: the chain id is signed.
	tx.ChainID = testChain
	if err := ledger.CheckTx(testChain, tx); !errors.Is(err, ledger.ErrTxBadSignature) {
		t.Fatalf("relabelled tx: err = %v, want ErrTxBadSignature", err)
	}
}

// TestTxFlippedBitIsBadSignature checks that flipping any single bit of
// the signature, or of a signed field, makes CheckTx refuse the tx with
// ErrTxBadSignature; it tries every signature bit.
func TestTxFlippedBitIsBadSignature(t *testing.T) {
	tx := signedTx(testChain, testKey(0), 3, testAddr(1), 10, 2, []byte("memo"))
	if err := ledger.CheckTx(testChain, tx); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	for bit := range 8 * crypto.SignatureBytes {
		bad := *tx
		bad.Signature[bit/8] ^= 1 << (bit % 8)
		if err := ledger.CheckTx(testChain, &bad); !errors.Is(err, ledger.ErrTxBadSignature) {
			t.Fatalf("signature bit %d flipped: err = %v, want ErrTxBadSignature", bit, err)
		}
	}
	for name, mutate := range map[string]func(*ledger.Tx){
		"nonce":  func(x *ledger.Tx) { x.Nonce ^= 1 },
		"to":     func(x *ledger.Tx) { x.To[0] ^= 1 },
		"amount": func(x *ledger.Tx) { x.Amount ^= 1 },
		"fee":    func(x *ledger.Tx) { x.Fee ^= 1 },
		"memo":   func(x *ledger.Tx) { x.Memo = []byte("memO") },
		"from":   func(x *ledger.Tx) { x.From = testKey(1).Public() },
	} {
		bad := *tx
		mutate(&bad)
		if err := ledger.CheckTx(testChain, &bad); !errors.Is(err, ledger.ErrTxBadSignature) {
			t.Errorf("%s changed after signing: err = %v, want ErrTxBadSignature", name, err)
		}
	}
}

// TestTxOverdraft checks that a tx costing one unit more than the balance
// is refused with ErrTxInsufficientFunds while spending the exact balance
// (amount plus fee) is accepted.
func TestTxOverdraft(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	over := signedTx(testChain, testKey(0), 0, testAddr(1), 991, 10, nil)
	if err := executeOne(c, over); !errors.Is(err, ledger.ErrTxInsufficientFunds) {
		t.Fatalf("cost 1001 of 1000: err = %v, want ErrTxInsufficientFunds", err)
	}
	feeOnly := signedTx(testChain, testKey(0), 0, testAddr(1), 0, 1001, nil)
	if err := executeOne(c, feeOnly); !errors.Is(err, ledger.ErrTxInsufficientFunds) {
		t.Fatalf("fee 1001 of 1000: err = %v, want ErrTxInsufficientFunds", err)
	}
	exact := signedTx(testChain, testKey(0), 0, testAddr(1), 990, 10, nil)
	if err := executeOne(c, exact); err != nil {
		t.Fatalf("cost equal to the balance: %v", err)
	}
	empty := signedTx(testChain, testKey(5), 0, testAddr(1), 1, 0, nil)
	if err := executeOne(c, empty); !errors.Is(err, ledger.ErrTxInsufficientFunds) {
		t.Fatalf("spend from an empty account: err = %v, want ErrTxInsufficientFunds", err)
	}
}

// TestTxMemoTooLarge checks the memo limit at its edge: TxMemoBytesMax
// passes CheckTx and decodes; one byte more fails both.
func TestTxMemoTooLarge(t *testing.T) {
	ok := signedTx(testChain, testKey(0), 0, testAddr(1), 1, 0, bytes.Repeat([]byte{'m'}, ledger.TxMemoBytesMax))
	if err := ledger.CheckTx(testChain, ok); err != nil {
		t.Fatalf("memo of TxMemoBytesMax: %v", err)
	}
	if n := len(ok.Encode()); n > ledger.TxBytesMax {
		t.Fatalf("largest tx encodes to %d bytes, over TxBytesMax %d", n, ledger.TxBytesMax)
	}
	if _, err := ledger.DecodeTx(ok.Encode()); err != nil {
		t.Fatalf("DecodeTx of the largest memo: %v", err)
	}
	big := signedTx(testChain, testKey(0), 0, testAddr(1), 1, 0, bytes.Repeat([]byte{'m'}, ledger.TxMemoBytesMax+1))
	if err := ledger.CheckTx(testChain, big); !errors.Is(err, ledger.ErrTxMemoTooLarge) {
		t.Fatalf("CheckTx: err = %v, want ErrTxMemoTooLarge", err)
	}
	if _, err := ledger.DecodeTx(big.Encode()); !errors.Is(err, ledger.ErrMalformed) {
		t.Fatalf("DecodeTx of an oversized memo: err = %v, want ErrMalformed", err)
	}
}

// TestTxAmountOverflow checks that amount+fee wrapping around uint64 is
// refused before any balance is looked at, and that the largest sum that
// fits is not.
func TestTxAmountOverflow(t *testing.T) {
	for _, c := range []struct{ amount, fee uint64 }{
		{math.MaxUint64, 1}, {1, math.MaxUint64}, {math.MaxUint64, math.MaxUint64}, {1 << 63, 1 << 63},
	} {
		tx := signedTx(testChain, testKey(0), 0, testAddr(1), c.amount, c.fee, nil)
		if err := ledger.CheckTx(testChain, tx); !errors.Is(err, ledger.ErrTxAmountOverflow) {
			t.Errorf("amount %d fee %d: err = %v, want ErrTxAmountOverflow", c.amount, c.fee, err)
		}
	}
	fits := signedTx(testChain, testKey(0), 0, testAddr(1), math.MaxUint64-7, 7, nil)
	if err := ledger.CheckTx(testChain, fits); err != nil {
		t.Errorf("amount+fee = MaxUint64: %v", err)
	}
}

// TestTxSmallOrderSender checks that a tx from a small-order key (for
// which one signature can verify for many messages) is refused.
func TestTxSmallOrderSender(t *testing.T) {
	tx := signedTx(testChain, testKey(0), 0, testAddr(1), 1, 0, nil)
	tx.From = identityKey
	if err := ledger.CheckTx(testChain, tx); !errors.Is(err, ledger.ErrTxBadSender) {
		t.Fatalf("err = %v, want ErrTxBadSender", err)
	}
}

// TestDecodeTxTooLarge checks the decoder's size limit comes before any
// parsing.
func TestDecodeTxTooLarge(t *testing.T) {
	if _, err := ledger.DecodeTx(make([]byte, ledger.TxBytesMax+1)); !errors.Is(err, ledger.ErrTxTooLarge) {
		t.Fatalf("err = %v, want ErrTxTooLarge", err)
	}
	bad := signedTx(testChain, testKey(0), 0, testAddr(1), 1, 0, nil).Encode()
	bad[0] = ledger.TxVersion + 1
	if _, err := ledger.DecodeTx(bad); !errors.Is(err, ledger.ErrMalformed) {
		t.Fatalf("unknown version: err = %v, want ErrMalformed", err)
	}
}

// TestCheckTxsReportsFirstBadTx checks CheckTxs' documented contract: the
// index and reason of the first bad tx, the same verdict CheckTx gives
// one by one. It puts a bad signature before a wrong chain id.
func TestCheckTxsReportsFirstBadTx(t *testing.T) {
	good := signedTx(testChain, testKey(0), 0, testAddr(1), 1, 0, nil)
	badSig := signedTx(testChain, testKey(1), 0, testAddr(1), 1, 0, nil)
	badSig.Signature[0] ^= 1
	wrongChain := signedTx("synod-other", testKey(2), 0, testAddr(1), 1, 0, nil)
	if bad, err := ledger.CheckTxs(testChain, []*ledger.Tx{good, good}); err != nil || bad != -1 {
		t.Fatalf("all good: bad %d, err %v", bad, err)
	}
	bad, err := ledger.CheckTxs(testChain, []*ledger.Tx{good, badSig, wrongChain})
	if bad != 1 || !errors.Is(err, ledger.ErrTxBadSignature) {
		t.Fatalf("CheckTxs = %d, %v; want 1, ErrTxBadSignature (tx 1 is the first bad one; CheckTx on it says %v)",
			bad, err, ledger.CheckTx(testChain, badSig))
	}
}
