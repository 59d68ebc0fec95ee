package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/synod-chain/synod/crypto"
)

// Genesis limits.
const (
	GenesisBytesMax    = 16 << 20
	GenesisAccountsMax = 100_000
)

// chainIDPattern: short, printable, no spaces, so it is safe in topic names,
// file names and logs.
var chainIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)

// ErrGenesis wraps every genesis validation failure.
var ErrGenesis = errors.New("genesis")

// ConsensusParams are the chain-wide consensus settings every validator
// must share; they live in genesis for that reason.
type ConsensusParams struct {
	// CheckpointInterval is K: a checkpoint every K heights.
	CheckpointInterval uint64 `json:"checkpoint_interval"`
	// WindowHeights is W: heights in flight above the low watermark.
	WindowHeights uint64 `json:"window_heights"`
	// ViewChangeTimeoutMs is the base timeout before a replica votes to
	// change view; it doubles on each consecutive view change.
	ViewChangeTimeoutMs uint64 `json:"view_change_timeout_ms"`
	BlockTxsMax         uint32 `json:"block_txs_max"`
	BlockBytesMax       uint32 `json:"block_bytes_max"`
}

// DefaultConsensusParams are sensible values for a small network.
func DefaultConsensusParams() ConsensusParams {
	return ConsensusParams{
		CheckpointInterval:  16,
		WindowHeights:       32,
		ViewChangeTimeoutMs: 2000,
		BlockTxsMax:         5000,
		BlockBytesMax:       4 << 20,
	}
}

// WindowHeightsMax bounds window_heights. A replica validates every block
// in flight before its parent commits, and the pending chain holds at most
// PendingChainBlocksMax of them; a height may hold more than one (one per
// view that proposed it, until the next view drops those it does not
// re-propose: Retain). Past that the chain has no room for an honest
// primary's next block, and the replica waits for commits to make room.
// A quarter leaves room for four proposals at every height.
const WindowHeightsMax = PendingChainBlocksMax / 4

// Validate checks the parameters' ranges.
func (p ConsensusParams) Validate() error {
	switch {
	case p.CheckpointInterval == 0 || p.CheckpointInterval > 10_000:
		return fmt.Errorf("%w: checkpoint_interval %d not in 1..10000", ErrGenesis, p.CheckpointInterval)
	case p.WindowHeights < p.CheckpointInterval || p.WindowHeights > WindowHeightsMax:
		return fmt.Errorf("%w: window_heights %d must be in checkpoint_interval..%d", ErrGenesis, p.WindowHeights, WindowHeightsMax)
	case p.ViewChangeTimeoutMs < 10 || p.ViewChangeTimeoutMs > 600_000:
		return fmt.Errorf("%w: view_change_timeout_ms %d not in 10..600000", ErrGenesis, p.ViewChangeTimeoutMs)
	case p.BlockTxsMax == 0 || p.BlockTxsMax > BlockTxsMax:
		return fmt.Errorf("%w: block_txs_max %d not in 1..%d", ErrGenesis, p.BlockTxsMax, BlockTxsMax)
	case p.BlockBytesMax < HeaderBytesMax+4+TxBytesMax || p.BlockBytesMax > BlockBytesMax:
		return fmt.Errorf("%w: block_bytes_max %d not in %d..%d", ErrGenesis, p.BlockBytesMax, HeaderBytesMax+4+TxBytesMax, BlockBytesMax)
	}
	return nil
}

// GenesisAccount is one funded account. Amount is a decimal string in JSON
// because balances can exceed 2^53, where JSON numbers lose precision.
type GenesisAccount struct {
	Address crypto.Address `json:"address"`
	Amount  Amount         `json:"amount"`
}

// Amount is a uint64 written as a decimal string in JSON.
type Amount uint64

// MarshalText writes the amount in decimal.
func (a Amount) MarshalText() ([]byte, error) { return []byte(strconv.FormatUint(uint64(a), 10)), nil }

// UnmarshalText reads a decimal amount.
func (a *Amount) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("amount %q: %w", b, err)
	}
	*a = Amount(v)
	return nil
}

// Genesis is the document every node of a chain starts from.
type Genesis struct {
	ChainID     string           `json:"chain_id"`
	GenesisTime time.Time        `json:"genesis_time"`
	Validators  []Validator      `json:"validators"`
	Accounts    []GenesisAccount `json:"accounts"`
	Consensus   ConsensusParams  `json:"consensus"`
}

// Validate checks the whole document and returns the first problem found.
func (g *Genesis) Validate() error {
	if err := ValidateChainID(g.ChainID); err != nil {
		return err
	}
	if g.GenesisTime.IsZero() {
		return fmt.Errorf("%w: genesis_time is missing", ErrGenesis)
	}
	if y := g.GenesisTime.UTC().Year(); y < 1 || y > 9999 {
		return fmt.Errorf("%w: genesis_time year %d not in 1..9999", ErrGenesis, y)
	}
	if _, err := NewValidatorSet(g.Validators); err != nil {
		return fmt.Errorf("%w: %w", ErrGenesis, err)
	}
	if err := g.Consensus.Validate(); err != nil {
		return err
	}
	if len(g.Accounts) > GenesisAccountsMax {
		return fmt.Errorf("%w: %d accounts exceeds %d", ErrGenesis, len(g.Accounts), GenesisAccountsMax)
	}
	seen := make(map[crypto.Address]bool, len(g.Accounts))
	var supply uint64
	for i, a := range g.Accounts {
		if seen[a.Address] {
			return fmt.Errorf("%w: account %s listed twice", ErrGenesis, a.Address)
		}
		seen[a.Address] = true
		if a.Amount == 0 {
			return fmt.Errorf("%w: account %d (%s) has zero amount", ErrGenesis, i, a.Address)
		}
		if uint64(a.Amount) > math.MaxUint64-supply {
			return fmt.Errorf("%w: total supply overflows uint64", ErrGenesis)
		}
		supply += uint64(a.Amount)
	}
	if supply == 0 {
		return fmt.Errorf("%w: zero total supply (no funded accounts)", ErrGenesis)
	}
	return nil
}

// ValidateChainID checks a chain id as Validate does, for tools that must
// refuse a bad one before they write anything else.
func ValidateChainID(id string) error {
	if !chainIDPattern.MatchString(id) {
		return fmt.Errorf("%w: chain_id %q must be 1-64 of [a-zA-Z0-9._-], starting alphanumeric", ErrGenesis, id)
	}
	return nil
}

// TotalSupply is the sum of genesis balances; execution conserves it.
func (g *Genesis) TotalSupply() uint64 {
	var s uint64
	for _, a := range g.Accounts {
		s += uint64(a.Amount)
	}
	return s
}

// ValidatorSet returns the genesis validator set.
func (g *Genesis) ValidatorSet() (*ValidatorSet, error) { return NewValidatorSet(g.Validators) }

// Hash is SHA-256 of the canonical JSON of the document. The genesis block's
// parent hash is this value, so two chains with the same id but different
// genesis documents have different block hashes from height 0 on.
func (g *Genesis) Hash() crypto.Hash {
	b, err := json.Marshal(g.inUTC())
	if err != nil {
		panic(fmt.Sprintf("genesis: marshal: %v", err))
	}
	return crypto.Sum256(b)
}

// DecodeGenesis parses and validates a genesis document. Unknown fields are
// errors: a typo in a consensus parameter must not silently fall back.
func DecodeGenesis(b []byte) (*Genesis, error) {
	if len(b) > GenesisBytesMax {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrGenesis, len(b), GenesisBytesMax)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var g Genesis
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("%w: parse: %w", ErrGenesis, err)
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) != 0 {
		return nil, fmt.Errorf("%w: trailing data after the document", ErrGenesis)
	}
	g.GenesisTime = g.GenesisTime.UTC()
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return &g, nil
}

// ReadGenesisFile reads and validates the genesis document at path.
func ReadGenesisFile(path string) (*Genesis, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrGenesis, err)
	}
	defer f.Close()
	b := make([]byte, GenesisBytesMax+1)
	n, err := readFull(f, b)
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrGenesis, path, err)
	}
	return DecodeGenesis(b[:n])
}

// Encode returns the document as indented JSON.
func (g *Genesis) Encode() []byte {
	b, err := json.MarshalIndent(g.inUTC(), "", "  ")
	if err != nil {
		panic(fmt.Sprintf("genesis: marshal: %v", err))
	}
	return append(b, '\n')
}

// inUTC returns a copy with the genesis time in UTC, so the hash and the
// file do not depend on the time zone of the machine that wrote them.
func (g *Genesis) inUTC() *Genesis {
	c := *g
	c.GenesisTime = c.GenesisTime.UTC()
	return &c
}
