package ledger

import (
	"errors"
	"fmt"
	"math"

	"github.com/synod-chain/synod/crypto"
)

// Transaction limits.
const (
	TxVersion      = 1
	TxMemoBytesMax = 256
	// TxBytesMax bounds a whole encoded transaction: every field at its
	// largest is 1+1+64+32+8+20+8+8+2+256+64 = 464 bytes.
	TxBytesMax = 512
)

// Errors a transaction can be rejected with. Each names one reason, so the
// RPC layer can map it to a code and a wallet can tell its user why.
var (
	ErrTxTooLarge          = errors.New("tx: too large")
	ErrTxWrongChain        = errors.New("tx: wrong chain id")
	ErrTxBadSignature      = errors.New("tx: invalid signature")
	ErrTxBadSender         = errors.New("tx: invalid sender public key")
	ErrTxMemoTooLarge      = errors.New("tx: memo too large")
	ErrTxAmountOverflow    = errors.New("tx: amount plus fee overflows")
	ErrTxNonceTooLow       = errors.New("tx: nonce too low (already used)")
	ErrTxNonceGap          = errors.New("tx: nonce too high (gap)")
	ErrTxInsufficientFunds = errors.New("tx: insufficient balance for amount plus fee")
)

// Tx is a signed transfer of Amount from the account of From to To, paying
// Fee to the block's proposer. Nonce must equal the sender account's nonce:
// that orders a sender's transactions and makes each one apply once.
type Tx struct {
	ChainID   string
	From      crypto.PublicKey
	Nonce     uint64
	To        crypto.Address
	Amount    uint64
	Fee       uint64
	Memo      []byte
	Signature crypto.Signature

	// decodedHash is the hash of the bytes DecodeTx or DecodeBlock read
	// this tx from (equal to Hash's, encodings being canonical), set only
	// there: a received tx's hash is asked for at every step from the
	// wire to the store, and a decoded tx is a message, never modified.
	// A copy (own := *tx) keeps it; code that changes a decoded tx's
	// fields must build a new Tx instead.
	decodedHash crypto.Hash
	hashDecoded bool
}

// Sender is the address of the account the tx spends from.
func (tx *Tx) Sender() crypto.Address { return tx.From.Address() }

// Cost is amount plus fee; ok is false on overflow.
func (tx *Tx) Cost() (cost uint64, ok bool) {
	if tx.Amount > math.MaxUint64-tx.Fee {
		return 0, false
	}
	return tx.Amount + tx.Fee, true
}

// SigningBytes is the encoding of everything but the signature: what the
// sender signs (under crypto.DomainTx and the chain id).
func (tx *Tx) SigningBytes() []byte {
	e := encoder{buf: make([]byte, 0, tx.unsignedLen())}
	tx.encodeUnsigned(&e)
	return e.buf
}

// unsignedLen is the length of SigningBytes, without encoding.
func (tx *Tx) unsignedLen() int {
	return 1 + 1 + len(tx.ChainID) + len(tx.From) + 8 + len(tx.To) + 8 + 8 + 2 + len(tx.Memo)
}

// EncodedLen is len(tx.Encode()), computed without encoding: the mempool
// sizes every tx it admits.
func (tx *Tx) EncodedLen() int { return tx.unsignedLen() + len(tx.Signature) }

func (tx *Tx) encodeUnsigned(e *encoder) {
	e.u8(TxVersion)
	e.bytes8([]byte(tx.ChainID))
	e.raw(tx.From[:])
	e.u64(tx.Nonce)
	e.raw(tx.To[:])
	e.u64(tx.Amount)
	e.u64(tx.Fee)
	e.bytes16(tx.Memo)
}

// Encode returns the canonical encoding, used for hashing, gossip and
// storage alike.
func (tx *Tx) Encode() []byte {
	e := encoder{buf: make([]byte, 0, tx.EncodedLen())}
	tx.encode(&e)
	return e.buf
}

func (tx *Tx) encode(e *encoder) {
	tx.encodeUnsigned(e)
	e.raw(tx.Signature[:])
}

// Hash is SHA-256 of the canonical encoding.
func (tx *Tx) Hash() crypto.Hash {
	if tx.hashDecoded {
		return tx.decodedHash
	}
	return crypto.Sum256(tx.Encode())
}

// Sign fills in From and Signature with key.
func (tx *Tx) Sign(key crypto.PrivateKey) {
	tx.From = key.Public()
	tx.Signature = key.Sign(crypto.DomainTx, tx.ChainID, tx.SigningBytes())
}

// DecodeTx decodes one canonical transaction of at most TxBytesMax bytes.
// It checks only the encoding; CheckTx checks the contents.
func DecodeTx(b []byte) (*Tx, error) {
	if len(b) > TxBytesMax {
		return nil, fmt.Errorf("decode tx: %w: %d bytes exceeds %d", ErrTxTooLarge, len(b), TxBytesMax)
	}
	d := decoder{buf: b}
	tx := decodeTx(&d)
	if err := d.finish("tx"); err != nil {
		return nil, err
	}
	return tx, nil
}

func decodeTx(d *decoder) *Tx { return decodeTxChain(d, "") }

// decodeTxChain is decodeTx that shares chainID's string when the tx
// carries the same chain id, as every tx of a block does.
func decodeTxChain(d *decoder, chainID string) *Tx {
	tx := &Tx{}
	start := d.off
	if v := d.u8("tx version"); d.fail == nil && v != TxVersion {
		d.setErr("tx version %d, want %d", v, TxVersion)
	}
	tx.ChainID = d.string8(crypto.ChainIDBytesMax, "tx chain id", chainID)
	d.fixed(tx.From[:], "tx sender")
	tx.Nonce = d.u64("tx nonce")
	d.fixed(tx.To[:], "tx recipient")
	tx.Amount = d.u64("tx amount")
	tx.Fee = d.u64("tx fee")
	// An oversized memo is malformed and says which limit it broke, so
	// a wallet is told that (the RPC maps ErrTxMemoTooLarge to its code).
	if memo := d.bytes16(TxBytesMax, "tx memo"); len(memo) <= TxMemoBytesMax {
		tx.Memo = memo
	} else if d.fail == nil {
		d.fail = fmt.Errorf("%w: %w: %d bytes exceeds %d", ErrMalformed, ErrTxMemoTooLarge, len(memo), TxMemoBytesMax)
	}
	d.fixed(tx.Signature[:], "tx signature")
	if d.fail == nil {
		tx.decodedHash, tx.hashDecoded = crypto.Sum256(d.buf[start:d.off]), true
	}
	return tx
}

// CheckTx checks everything about tx that does not depend on account state:
// chain id, sizes, amount overflow, sender key and signature. Mempool, gossip
// validators and block execution all call it, so a tx is judged the same way
// everywhere.
func CheckTx(chainID string, tx *Tx) error {
	if err := checkTxFields(chainID, tx); err != nil {
		return err
	}
	if err := crypto.Verify(tx.From, crypto.DomainTx, tx.ChainID, tx.SigningBytes(), tx.Signature); err != nil {
		return ErrTxBadSignature
	}
	return nil
}

// CheckTxFields is CheckTx without the signature, for callers that verify
// signatures in a batch (or know them verified).
func CheckTxFields(chainID string, tx *Tx) error { return checkTxFields(chainID, tx) }

func checkTxFields(chainID string, tx *Tx) error {
	if err := checkTxPlainFields(chainID, tx); err != nil {
		return err
	}
	if err := validateSender(tx.From); err != nil {
		return fmt.Errorf("%w: %v", ErrTxBadSender, err)
	}
	return nil
}

// checkTxPlainFields is checkTxFields without the sender key, whose
// validity is part of what a signature check proves.
func checkTxPlainFields(chainID string, tx *Tx) error {
	if tx.ChainID != chainID {
		return fmt.Errorf("%w: %q, want %q", ErrTxWrongChain, tx.ChainID, chainID)
	}
	if len(tx.Memo) > TxMemoBytesMax {
		return fmt.Errorf("%w: %d bytes exceeds %d", ErrTxMemoTooLarge, len(tx.Memo), TxMemoBytesMax)
	}
	if _, ok := tx.Cost(); !ok {
		return ErrTxAmountOverflow
	}
	return nil
}

// CheckTxs checks a batch of transactions like CheckTx, verifying their
// signatures in one batch. It returns the index of the first bad tx and why.
func CheckTxs(chainID string, txs []*Tx) (bad int, err error) {
	return CheckTxsCached(chainID, txs, nil)
}

// CheckTxsCached is CheckTxs that skips the signature of every tx whose
// hash is in cache (nil means no cache) and records the ones it verifies.
func CheckTxsCached(chainID string, txs []*Tx, cache *SigCache) (bad int, err error) {
	if len(txs) == 0 {
		return -1, nil
	}
	// Only the txs before the first field error go into the batch: a bad
	// signature earlier than that error is the first bad tx.
	firstFieldErr, fieldErr := len(txs), error(nil)
	var inBatch []int
	var hashes []crypto.Hash
	for i, tx := range txs {
		if err := checkTxFields(chainID, tx); err != nil {
			firstFieldErr, fieldErr = i, err
			break
		}
		if cache != nil {
			h := tx.Hash()
			if cache.Contains(h) {
				continue
			}
			hashes = append(hashes, h)
		}
		inBatch = append(inBatch, i)
	}
	// The batch is sized once the cache has spoken: in a block's
	// validation nearly every signature is already cached, and a batch
	// sized for the whole block would allocate about 1 KiB per tx for
	// nothing.
	batch := crypto.NewBatchVerifier(len(inBatch))
	for _, i := range inBatch {
		tx := txs[i]
		batch.Add(tx.From, crypto.DomainTx, tx.ChainID, tx.SigningBytes(), tx.Signature)
	}
	allValid, valid := batch.Verify()
	if !allValid {
		for j, ok := range valid {
			if !ok {
				return inBatch[j], ErrTxBadSignature
			}
		}
	}
	if cache != nil {
		for _, h := range hashes {
			cache.Add(h)
		}
	}
	if fieldErr != nil {
		return firstFieldErr, fieldErr
	}
	return -1, nil
}
