package mempool

import (
	"errors"
	"fmt"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Ceilings on the configurable limits. They keep per-sender work (a sorted
// slice of at most PerSenderTxsMax entries) a small constant.
const (
	PerSenderTxsCeiling      = 4096
	ReplaceFeeBumpPercentMax = 100
	defaultTxsMax            = 50_000
	defaultBytesMax          = 64 << 20
	defaultPerSenderTxsMax   = 64
	defaultNonceAheadMax     = 64
	defaultReplaceFeeBumpPct = 10
	defaultRebroadcastTxsMax = 1000
)

// ErrConfig is returned by New for a Config out of range.
var ErrConfig = errors.New("mempool: invalid config")

// Config holds the pool's chain id and limits, each with its unit last.
type Config struct {
	// ChainID is the chain every tx must be signed for.
	ChainID string
	// TxsMax bounds the number of pending txs.
	TxsMax int
	// BytesMax bounds the sum of the pending txs' canonical encoded sizes.
	BytesMax int
	// PerSenderTxsMax bounds the pending txs of one sender, so one account
	// cannot fill the pool.
	PerSenderTxsMax int
	// NonceAheadMax is how far beyond its account's nonce a tx's nonce may
	// be: nonces in [account, account+NonceAheadMax] are accepted, the
	// ones above the first gap are kept queued until the gap fills.
	NonceAheadMax uint64
	// ReplaceFeeBumpPercent is how much higher, in percent, a tx's fee must
	// be to replace a pending tx with the same sender and nonce (at least
	// one unit higher in any case).
	ReplaceFeeBumpPercent uint64
	// RebroadcastTxsMax bounds the txs one ForRebroadcast call returns.
	RebroadcastTxsMax int
	// SigCache, if set, holds the hashes of txs whose signatures verified:
	// Add skips those signatures and records the ones it verifies, so block
	// validation (which shares the cache) does not verify them again;
	// Update makes it forget the txs that committed.
	SigCache *ledger.SigCache
}

// DefaultConfig returns limits suited to a node with a few hundred MB of
// memory to spare: 50,000 txs, 64 MiB.
func DefaultConfig(chainID string) Config {
	return Config{
		ChainID:               chainID,
		TxsMax:                defaultTxsMax,
		BytesMax:              defaultBytesMax,
		PerSenderTxsMax:       defaultPerSenderTxsMax,
		NonceAheadMax:         defaultNonceAheadMax,
		ReplaceFeeBumpPercent: defaultReplaceFeeBumpPct,
		RebroadcastTxsMax:     defaultRebroadcastTxsMax,
	}
}

// Validate checks the config's ranges.
func (c Config) Validate() error {
	if err := crypto.ValidateChainID(c.ChainID); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	switch {
	case c.ChainID == "":
		return fmt.Errorf("%w: empty chain id", ErrConfig)
	case c.TxsMax < 1:
		return fmt.Errorf("%w: TxsMax %d < 1", ErrConfig, c.TxsMax)
	case c.BytesMax < ledger.TxBytesMax:
		return fmt.Errorf("%w: BytesMax %d < one tx of %d bytes", ErrConfig, c.BytesMax, ledger.TxBytesMax)
	case c.PerSenderTxsMax < 1 || c.PerSenderTxsMax > PerSenderTxsCeiling:
		return fmt.Errorf("%w: PerSenderTxsMax %d not in 1..%d", ErrConfig, c.PerSenderTxsMax, PerSenderTxsCeiling)
	case c.ReplaceFeeBumpPercent < 1 || c.ReplaceFeeBumpPercent > ReplaceFeeBumpPercentMax:
		return fmt.Errorf("%w: ReplaceFeeBumpPercent %d not in 1..%d", ErrConfig, c.ReplaceFeeBumpPercent, ReplaceFeeBumpPercentMax)
	case c.RebroadcastTxsMax < 1:
		return fmt.Errorf("%w: RebroadcastTxsMax %d < 1", ErrConfig, c.RebroadcastTxsMax)
	}
	return nil
}

// minReplacementFee is the lowest fee that may replace a tx paying old, and
// false if none can (the bump overflows uint64).
func (c Config) minReplacementFee(old uint64) (uint64, bool) {
	// old/100*pct <= old because pct <= 100, so nothing here overflows
	// before the final addition, which is checked.
	bump := old/100*c.ReplaceFeeBumpPercent + (old%100*c.ReplaceFeeBumpPercent+99)/100
	bump = max(bump, 1)
	if bump > ^uint64(0)-old {
		return 0, false
	}
	return old + bump, true
}
