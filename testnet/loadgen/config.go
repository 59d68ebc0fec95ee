package loadgen

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Limits of one run. Everything the generator holds grows with the txs it
// plans, and TxsMax bounds those.
const (
	TxsMax         = 5_000_000
	RateMax        = 1_000_000 // tx/s
	DurationMax    = 24 * time.Hour
	GraceMax       = 10 * time.Minute
	AccountsMax    = 100_000
	RPCURLsMax     = 64
	InFlightMaxMax = 4096
	// BatchTxsMax matches the server's default batch limit (rpc
	// DefaultConfig BatchItemsMax).
	BatchTxsMax = 100
	// BatchWaitMax bounds how long a short batch waits for more txs.
	BatchWaitMax = time.Second
	// AmountMax bounds the seeded amount of one transfer, so even a long
	// run cannot spend a testnet account.
	AmountMax = 1_000_000
)

// Defaults for zero Config fields.
const (
	DefaultGrace       = 10 * time.Second
	DefaultInFlightMax = 64
	DefaultBatchTxs    = 1
	DefaultSendLagMax  = time.Second
	DefaultAmountMax   = 100
	DefaultFee         = 1
)

// Config describes one run.
type Config struct {
	// RPC are the nodes' HTTP JSON-RPC URLs (http://127.0.0.1:port).
	// Requests go to them round-robin.
	RPC []string
	// WatchRPC are the URLs whose committed blocks are followed, first
	// one first, the next one if it fails; empty means RPC.
	WatchRPC []string
	// Rate is the offered load in tx/s.
	Rate float64
	// Warmup is submitted at Rate before the measured window; its txs
	// count for acknowledged, committed and lost but not for latency or
	// throughput.
	Warmup time.Duration
	// Duration is the measured window.
	Duration time.Duration
	// Grace is how long after the schedule ends an acknowledged tx may
	// take to commit before it counts as lost; refused txs are offered
	// again during its first half (Result.Resubmitted). The run ends
	// then: a request still unanswered is cut and its txs count as
	// failed.
	Grace time.Duration
	// Keys are the funded accounts the txs spend from.
	Keys []crypto.PrivateKey
	// TxBytes pads each tx's memo so its encoding is this many bytes,
	// from a tx without a memo to one with ledger.TxMemoBytesMax of memo
	// (Prepare checks, knowing the chain id); 0 means no memo.
	TxBytes int
	// Seed makes the recipients, amounts and memos reproducible.
	Seed uint64
	// AmountMax bounds each transfer's amount (1..AmountMax); Fee is paid
	// on every tx.
	AmountMax uint64
	Fee       uint64
	// InFlightMax bounds concurrent requests; BatchTxs is how many txs
	// one request carries (a JSON-RPC batch when above 1).
	InFlightMax int
	BatchTxs    int
	// BatchWait is how long a request short of BatchTxs may wait for
	// more txs to fall due (0: it leaves at once with those due). Under
	// load it turns many small requests into fewer full ones, as a
	// wallet backend that batches would.
	BatchWait time.Duration
	// SendLagMax is how late a tx may leave before it is counted unsent.
	SendLagMax time.Duration
	// Progress, if set, receives a line every second.
	Progress io.Writer
}

// SetDefaults fills in the zero fields that have defaults.
func (c *Config) SetDefaults() {
	if len(c.WatchRPC) == 0 {
		c.WatchRPC = c.RPC
	}
	if c.Grace == 0 {
		c.Grace = DefaultGrace
	}
	if c.InFlightMax == 0 {
		c.InFlightMax = DefaultInFlightMax
	}
	if c.BatchTxs == 0 {
		c.BatchTxs = DefaultBatchTxs
	}
	if c.SendLagMax == 0 {
		c.SendLagMax = DefaultSendLagMax
	}
	if c.AmountMax == 0 {
		c.AmountMax = DefaultAmountMax
	}
}

// PlannedTxs is how many txs a run of rate for warmup+duration schedules.
func PlannedTxs(rate float64, warmup, duration time.Duration) float64 {
	return math.Ceil(rate * float64(warmup+duration) / float64(time.Second))
}

// Validate checks c after defaults are applied.
func (c *Config) Validate() error {
	if err := c.ValidateSettings(); err != nil {
		return err
	}
	if len(c.Keys) == 0 || len(c.Keys) > AccountsMax {
		return fmt.Errorf("loadgen: %d accounts, want 1..%d", len(c.Keys), AccountsMax)
	}
	seen := make(map[crypto.Address]bool, len(c.Keys))
	for i, k := range c.Keys {
		if k.IsZero() {
			return fmt.Errorf("loadgen: key %d is zero", i)
		}
		a := k.Public().Address()
		if seen[a] {
			return fmt.Errorf("loadgen: account %s given twice", a)
		}
		seen[a] = true
	}
	return nil
}

// SettingError is a Config setting refused by Validate or Prepare.
// Field names it as Config does ("Rate", "InFlightMax"; "Schedule" for
// Rate × (Warmup + Duration)), so a caller can report it under its own
// name for it: synod bench names the flag.
type SettingError struct {
	Field string
	// Name is the setting in words ("in-flight limit"), Problem what is
	// wrong with its value ("0 not in 1..4096").
	Name, Problem string
}

func (e *SettingError) Error() string { return "loadgen: " + e.Name + " " + e.Problem }

func settingErr(field, name, format string, args ...any) error {
	return &SettingError{Field: field, Name: name, Problem: fmt.Sprintf(format, args...)}
}

// ValidateSettings checks everything but the keys, so a caller can
// refuse bad settings before decrypting a keystore.
func (c *Config) ValidateSettings() error {
	switch {
	case len(c.RPC) == 0:
		return errors.New("loadgen: no RPC URL")
	case len(c.RPC) > RPCURLsMax:
		return settingErr("RPC", "RPC URLs", "are %d, at most %d", len(c.RPC), RPCURLsMax)
	case len(c.WatchRPC) > RPCURLsMax:
		return settingErr("WatchRPC", "watch RPC URLs", "are %d, at most %d", len(c.WatchRPC), RPCURLsMax)
	case !(c.Rate > 0) || c.Rate > RateMax:
		return settingErr("Rate", "rate", "%g tx/s not in (0, %d]", c.Rate, RateMax)
	case c.Duration <= 0 || c.Duration > DurationMax:
		return settingErr("Duration", "duration", "%s not in (0, %s]", c.Duration, DurationMax)
	case c.Warmup < 0 || c.Warmup > DurationMax:
		return settingErr("Warmup", "warmup", "%s not in [0, %s]", c.Warmup, DurationMax)
	case c.Grace < 0 || c.Grace > GraceMax:
		return settingErr("Grace", "grace", "%s not in [0, %s]", c.Grace, GraceMax)
	case c.TxBytes < 0 || c.TxBytes > ledger.TxBytesMax:
		return settingErr("TxBytes", "tx size", "%d not in 0..%d bytes", c.TxBytes, ledger.TxBytesMax)
	case c.AmountMax > AmountMax:
		return settingErr("AmountMax", "amount max", "%d above %d", c.AmountMax, AmountMax)
	case c.InFlightMax < 1 || c.InFlightMax > InFlightMaxMax:
		return settingErr("InFlightMax", "in-flight limit", "%d not in 1..%d", c.InFlightMax, InFlightMaxMax)
	case c.BatchTxs < 1 || c.BatchTxs > BatchTxsMax:
		return settingErr("BatchTxs", "batch", "%d not in 1..%d", c.BatchTxs, BatchTxsMax)
	case c.SendLagMax <= 0 || c.SendLagMax > time.Minute:
		return settingErr("SendLagMax", "send lag", "%s not in (0, 1m]", c.SendLagMax)
	case c.BatchWait < 0 || c.BatchWait > BatchWaitMax || c.BatchWait >= c.SendLagMax:
		return settingErr("BatchWait", "batch wait", "%s not in [0, %s] and below the send lag %s", c.BatchWait, BatchWaitMax, c.SendLagMax)
	}
	if n := PlannedTxs(c.Rate, c.Warmup, c.Duration); n > TxsMax {
		return settingErr("Schedule", "rate × (warmup + duration)", "is %.0f txs, at most %d", n, TxsMax)
	}
	if err := checkURLs("RPC", c.RPC); err != nil {
		return err
	}
	return checkURLs("WatchRPC", c.WatchRPC)
}

func checkURLs(field string, urls []string) error {
	for _, u := range urls {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return settingErr(field, "RPC URL", "%q must start with http:// or https://", u)
		}
	}
	return nil
}
