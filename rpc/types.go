package rpc

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Tx statuses in Transaction.Status.
const (
	TxStatusPending   = "pending"
	TxStatusCommitted = "committed"
)

// Subscription kinds of synod_subscribe.
const (
	SubscriptionNewBlocks = "newBlocks"
	SubscriptionTx        = "tx"
)

// Decimal is a uint64 written in JSON as a decimal string, because
// JavaScript numbers lose integers above 2^53. Balances, amounts and fees
// use it; heights and nonces stay JSON numbers.
type Decimal uint64

// MarshalText writes d in base 10.
func (d Decimal) MarshalText() ([]byte, error) {
	return strconv.AppendUint(nil, uint64(d), 10), nil
}

// UnmarshalText reads base-10 digits only: no sign, no spaces, no hex.
func (d *Decimal) UnmarshalText(text []byte) error {
	v, err := ParseDecimal(string(text))
	if err != nil {
		return err
	}
	*d = Decimal(v)
	return nil
}

// ParseDecimal reads a base-10 uint64 and nothing else; it is what the CLI
// uses for --amount and --fee too.
func ParseDecimal(s string) (uint64, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a non-negative base-10 integer", s)
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q does not fit in 64 bits", s)
	}
	return v, nil
}

// BlockTag names a committed block: the head ("latest") or a height.
type BlockTag struct {
	Latest bool
	Height uint64
}

// Latest is the BlockTag of the committed head.
var Latest = BlockTag{Latest: true}

// AtHeight is the BlockTag of a height.
func AtHeight(h uint64) BlockTag { return BlockTag{Height: h} }

// String returns "latest" or the height.
func (t BlockTag) String() string {
	if t.Latest {
		return "latest"
	}
	return strconv.FormatUint(t.Height, 10)
}

// MarshalJSON writes "latest" or the height as a number.
func (t BlockTag) MarshalJSON() ([]byte, error) {
	if t.Latest {
		return []byte(`"latest"`), nil
	}
	return strconv.AppendUint(nil, t.Height, 10), nil
}

// UnmarshalJSON reads "latest" or a non-negative integer number.
func (t *BlockTag) UnmarshalJSON(b []byte) error {
	if string(b) == `"latest"` {
		*t = Latest
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		// A string is "latest" however it is escaped ("\u006catest" too),
		// as for any JSON decoder; any other string is refused.
		var s string
		if json.Unmarshal(b, &s) == nil && s == "latest" {
			*t = Latest
			return nil
		}
	}
	h, err := parseUintNumber(b)
	if err != nil {
		return fmt.Errorf(`block tag must be "latest" or a height: %w`, err)
	}
	*t = AtHeight(h)
	return nil
}

// parseUintNumber reads a JSON number that is a non-negative integer
// without fraction or exponent.
func parseUintNumber(b []byte) (uint64, error) {
	s := string(b)
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, fmt.Errorf("%s is not a non-negative integer", truncate(s))
	}
	return ParseDecimal(s)
}

// HexBytes is a byte string written as 0x-prefixed hex.
type HexBytes []byte

// MarshalText writes 0x-prefixed lower-case hex.
func (h HexBytes) MarshalText() ([]byte, error) {
	return []byte("0x" + hex.EncodeToString(h)), nil
}

// UnmarshalText reads 0x-prefixed hex.
func (h *HexBytes) UnmarshalText(text []byte) error {
	b, err := decodeHex(string(text))
	if err != nil {
		return err
	}
	*h = b
	return nil
}

// decodeHex reads 0x-prefixed hex of an even number of digits.
func decodeHex(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, "0x")
	if !ok {
		return nil, errors.New("hex string must start with 0x")
	}
	b, err := hex.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("bad hex: %w", err)
	}
	return b, nil
}

// Transaction is a tx as synod_getTransaction returns it, and the receipt
// a "tx" subscription delivers once the tx commits. Height, Index and
// BlockHash are null while the tx is pending.
type Transaction struct {
	Hash      crypto.Hash      `json:"hash"`
	From      crypto.Address   `json:"from"`
	PublicKey crypto.PublicKey `json:"publicKey"`
	To        crypto.Address   `json:"to"`
	Amount    Decimal          `json:"amount"`
	Fee       Decimal          `json:"fee"`
	Nonce     uint64           `json:"nonce"`
	Memo      HexBytes         `json:"memo"`
	ChainID   string           `json:"chainId"`
	Signature crypto.Signature `json:"signature"`
	Status    string           `json:"status"`
	Height    *uint64          `json:"height"`
	Index     *int             `json:"index"`
	BlockHash *crypto.Hash     `json:"blockHash"`
}

// NewPendingTransaction describes a tx waiting in the pool.
func NewPendingTransaction(tx *ledger.Tx) *Transaction {
	t := &Transaction{
		Hash: tx.Hash(), From: tx.Sender(), PublicKey: tx.From, To: tx.To,
		Amount: Decimal(tx.Amount), Fee: Decimal(tx.Fee), Nonce: tx.Nonce,
		Memo: HexBytes(append([]byte{}, tx.Memo...)), ChainID: tx.ChainID, Signature: tx.Signature,
		Status: TxStatusPending,
	}
	return t
}

// NewCommittedTransaction describes a tx at index of the block with
// blockHash at height.
func NewCommittedTransaction(tx *ledger.Tx, height uint64, index int, blockHash crypto.Hash) *Transaction {
	t := NewPendingTransaction(tx)
	t.Status = TxStatusCommitted
	t.Height, t.Index, t.BlockHash = &height, &index, &blockHash
	return t
}

// BlockHeader is a block without its txs: the payload of a "newBlocks"
// notification and the head of every Block.
type BlockHeader struct {
	Hash       crypto.Hash    `json:"hash"`
	ChainID    string         `json:"chainId"`
	Height     uint64         `json:"height"`
	View       uint64         `json:"view"`
	ParentHash crypto.Hash    `json:"parentHash"`
	TxRoot     crypto.Hash    `json:"txRoot"`
	StateRoot  crypto.Hash    `json:"stateRoot"`
	Proposer   crypto.Address `json:"proposer"`
	// Timestamp is the proposer's clock in Unix milliseconds.
	Timestamp int64 `json:"timestamp"`
	TxCount   int   `json:"txCount"`
}

// NewBlockHeader describes b's header.
func NewBlockHeader(b *ledger.Block) BlockHeader {
	h := b.Header
	return BlockHeader{
		Hash: b.Hash(), ChainID: h.ChainID, Height: h.Height, View: h.View, ParentHash: h.ParentHash,
		TxRoot: h.TxRoot, StateRoot: h.StateRoot, Proposer: h.Proposer, Timestamp: h.Timestamp,
		TxCount: len(b.Txs),
	}
}

// Commit is a block's commit certificate: the view it committed in and the
// validators' COMMIT signatures, each naming the validator by its index in
// synod_validators.
type Commit struct {
	View       uint64            `json:"view"`
	Signatures []CommitSignature `json:"signatures"`
}

// CommitSignature is one validator's COMMIT signature.
type CommitSignature struct {
	Validator uint16           `json:"validator"`
	Signature crypto.Signature `json:"signature"`
}

// Block is the result of synod_getBlockByNumber and synod_getBlockByHash.
// In JSON, "txs" holds tx hashes, or with fullTxs whole Transactions (then
// Full is true and Txs is set instead of TxHashes). Commit is null for the
// genesis block, which no quorum signs.
type Block struct {
	BlockHeader
	Full     bool
	TxHashes []crypto.Hash
	Txs      []*Transaction
	Commit   *Commit
}

type blockJSON struct {
	BlockHeader
	Txs    json.RawMessage `json:"txs"`
	Commit *Commit         `json:"commit"`
}

// NewBlock describes b with its certificate (nil for none), with whole txs
// if full.
func NewBlock(b *ledger.Block, cert *ledger.CommitCertificate, full bool) *Block {
	out := &Block{BlockHeader: NewBlockHeader(b), Full: full}
	if full {
		out.Txs = make([]*Transaction, len(b.Txs))
		for i, tx := range b.Txs {
			out.Txs[i] = NewCommittedTransaction(tx, b.Header.Height, i, out.Hash)
		}
	} else {
		out.TxHashes = b.TxHashes()
	}
	if cert != nil {
		c := &Commit{View: cert.View, Signatures: make([]CommitSignature, len(cert.Signatures))}
		for i, s := range cert.Signatures {
			c.Signatures[i] = CommitSignature{Validator: s.Validator, Signature: s.Signature}
		}
		out.Commit = c
	}
	return out
}

// MarshalJSON writes "txs" as hashes or as whole txs.
func (b Block) MarshalJSON() ([]byte, error) {
	var txs any = b.TxHashes
	if b.Full {
		txs = b.Txs
	}
	raw, err := json.Marshal(txs)
	if err != nil {
		return nil, err
	}
	if string(raw) == "null" {
		raw = []byte("[]")
	}
	return json.Marshal(blockJSON{BlockHeader: b.BlockHeader, Txs: raw, Commit: b.Commit})
}

// UnmarshalJSON reads "txs" as hashes (strings) or whole txs (objects).
func (b *Block) UnmarshalJSON(data []byte) error {
	var aux blockJSON
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	*b = Block{BlockHeader: aux.BlockHeader, Commit: aux.Commit}
	var items []json.RawMessage
	if len(aux.Txs) > 0 {
		if err := json.Unmarshal(aux.Txs, &items); err != nil {
			return fmt.Errorf("block txs: %w", err)
		}
	}
	if len(items) == 0 {
		return nil
	}
	if bytes.HasPrefix(bytes.TrimSpace(items[0]), []byte("{")) {
		b.Full = true
		return json.Unmarshal(aux.Txs, &b.Txs)
	}
	return json.Unmarshal(aux.Txs, &b.TxHashes)
}

// Notification is the params object of a synod_subscription message.
type Notification struct {
	Subscription string          `json:"subscription"`
	Result       json.RawMessage `json:"result"`
}

func truncate(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
