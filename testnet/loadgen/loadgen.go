package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/client"
)

// Timeouts of the generator's own calls.
const (
	requestTimeout = 30 * time.Second
	setupTimeout   = 30 * time.Second
)

// requestBufferBytes sizes a connection's write buffer, so that a
// request's headers and body leave in one write: 64 KiB holds a request of
// BatchTxsMax 250-byte txs in hex (about 57 KB).
const requestBufferBytes = 64 << 10

// ErrAlreadyRun is returned by a second Run: a generator's txs are spent.
var ErrAlreadyRun = errors.New("loadgen: generator already ran")

// txState is where one pre-signed tx stands.
type txState uint8

const (
	statePlanned  txState = iota // signed, not sent
	stateSent                    // request on its way
	stateAcked                   // the node returned its hash
	stateRejected                // the node refused it with a JSON-RPC code
	stateFailed                  // no answer, or one without a code
)

// txRecord is one pre-signed tx. raw is dropped once sent, so the
// generator's memory after a run is the records alone.
type txRecord struct {
	raw      []byte
	hash     crypto.Hash
	dueNs    int64 // its slot in the schedule, since the run's start
	sentNs   int64 // when its request left, since the run's start
	commitNs int64 // when the block holding it was first known committed
	height   uint64
	state    txState
	commits  uint8 // times seen in committed blocks (saturating)
	warmup   bool
}

// account is one sender's run of records, nonces in order.
type account struct {
	first, count, next int32
}

// Generator is one load run: Prepare, Run, then the hash sets.
type Generator struct {
	cfg     Config
	chainID string
	txBytes int
	clients []*client.Client
	httpc   *http.Client

	recs   []txRecord
	byHash map[crypto.Hash]int32
	accts  []account

	prepared bool
	ran      bool
	// base is a monotonic reference; the run's clock starts startNs
	// after it (set once the watcher is following blocks).
	base    time.Time
	startNs atomic.Int64

	mu             sync.Mutex // guards recs after Prepare and the maps below
	rejectedByCode map[int]int
	pendingAcked   int // acknowledged, not yet seen committed
	duplicates     int
	foreignTxs     int
	watchErrors    []string

	sent, acked, rejected, failed, unsent, committed atomic.Int64
	inFlight, maxLagNs, head, blocksRead             atomic.Int64
	requests, resubmitted                            atomic.Int64
}

// New checks cfg (after filling in defaults) and returns a generator.
func New(cfg Config) (*Generator, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	hc := &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: cfg.InFlightMax,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			// With the default 4 KiB buffer a 10-tx request took two writes.
			WriteBufferSize: requestBufferBytes,
		},
	}
	g := &Generator{cfg: cfg, httpc: hc, rejectedByCode: make(map[int]int)}
	for _, u := range cfg.RPC {
		g.clients = append(g.clients, client.NewHTTP(u, hc))
	}
	return g, nil
}

// Config is the run's configuration with defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// ChainID is the chain the txs are signed for (known after Prepare).
func (g *Generator) ChainID() string { return g.chainID }

// TxBytes is the encoded size of the generated txs (after Prepare).
func (g *Generator) TxBytes() int { return g.txBytes }

// Prepare reads the chain id and each account's pending nonce from the
// first RPC URL, checks that every other URL answers for the same chain,
// and signs every tx the run can send.
func (g *Generator) Prepare(ctx context.Context) error {
	if g.prepared {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	st, err := g.clients[0].Status(ctx)
	if err != nil {
		return fmt.Errorf("loadgen: status of %s: %w", g.cfg.RPC[0], err)
	}
	// The chain id is the node's word, and signing treats one too long
	// for a signing payload as a programmer error (a panic).
	if err := crypto.ValidateChainID(st.ChainID); err != nil {
		return fmt.Errorf("loadgen: the chain id of %s cannot be signed for: %w", g.cfg.RPC[0], err)
	}
	g.chainID = st.ChainID
	if err := g.checkNodes(ctx); err != nil {
		return err
	}
	if err := g.checkTxBytes(); err != nil {
		return err
	}
	nonces, balances, err := g.accountStates(ctx)
	if err != nil {
		return err
	}
	g.layout()
	var costs []uint64
	g.txBytes, costs = g.sign(nonces)
	if err := g.checkFunds(balances, costs); err != nil {
		return err
	}
	g.byHash = make(map[crypto.Hash]int32, len(g.recs))
	for i := range g.recs {
		g.byHash[g.recs[i].hash] = int32(i)
	}
	if len(g.byHash) != len(g.recs) {
		return errors.New("loadgen: two generated txs share a hash")
	}
	g.prepared = true
	return nil
}

// checkNodes asks every RPC URL but the first for its status: a URL that
// does not answer, or answers for another chain, would otherwise take its
// share of the txs and fail or refuse them all, a run measuring a typo.
func (g *Generator) checkNodes(ctx context.Context) error {
	for i, c := range g.clients[1:] {
		url := g.cfg.RPC[i+1]
		st, err := c.Status(ctx)
		if err != nil {
			return fmt.Errorf("loadgen: status of %s: %w", url, err)
		}
		if st.ChainID != g.chainID {
			return fmt.Errorf("loadgen: %s is on chain %q, %s on %q", url, st.ChainID, g.cfg.RPC[0], g.chainID)
		}
	}
	return nil
}

// accountStates asks for every account's next nonce, counting its
// pending txs, and its balance, in batches the server accepts.
func (g *Generator) accountStates(ctx context.Context) (nonces, balances []uint64, err error) {
	nonces = make([]uint64, len(g.cfg.Keys))
	bals := make([]rpc.Decimal, len(g.cfg.Keys))
	const perBatch = BatchTxsMax / 2 // two calls an account
	for lo := 0; lo < len(nonces); lo += perBatch {
		hi := min(lo+perBatch, len(nonces))
		calls := make([]client.BatchElem, 0, 2*(hi-lo))
		for i := lo; i < hi; i++ {
			addr := g.cfg.Keys[i].Public().Address()
			calls = append(calls,
				client.BatchElem{Method: "synod_getNonce", Params: []any{addr, rpc.NoncePending}, Result: &nonces[i]},
				client.BatchElem{Method: "synod_getBalance", Params: []any{addr, rpc.Latest}, Result: &bals[i]})
		}
		if err := g.clients[0].BatchCall(ctx, calls); err != nil {
			return nil, nil, fmt.Errorf("loadgen: read nonces and balances: %w", err)
		}
		for k, c := range calls {
			if c.Error != nil {
				return nil, nil, fmt.Errorf("loadgen: %s of %s: %w", c.Method, g.cfg.Keys[lo+k/2].Public().Address(), c.Error)
			}
		}
	}
	balances = make([]uint64, len(bals))
	for i, b := range bals {
		balances[i] = uint64(b)
	}
	return nonces, balances, nil
}

// checkFunds refuses an account whose balance does not cover what its
// txs cost (amounts and fees): a key the chain never funded, or a fee no
// balance pays. Its txs would all be refused, and its later ones, offered
// again for the nonce gap, would hold request slots the funded accounts'
// txs need, spoiling the measurement of those.
func (g *Generator) checkFunds(balances, costs []uint64) error {
	for a, cost := range costs {
		if balances[a] < cost {
			return fmt.Errorf("loadgen: account %s cannot pay for its %d txs: it holds %d, they cost %d",
				g.cfg.Keys[a].Public().Address(), g.accts[a].count, balances[a], cost)
		}
	}
	return nil
}

// layout gives every account an equal run of records, enough for the
// whole schedule even if it all came from one round of accounts.
func (g *Generator) layout() {
	total := int(PlannedTxs(g.cfg.Rate, g.cfg.Warmup, g.cfg.Duration))
	k := len(g.cfg.Keys)
	per := (total + k - 1) / k
	g.recs = make([]txRecord, per*k)
	g.accts = make([]account, k)
	for i := range g.accts {
		g.accts[i] = account{first: int32(i * per), count: int32(per)}
	}
}

// bareTxBytes is the size of a tx without a memo on chain chainID; the
// encoding has no variable-length field but the chain id and the memo.
func bareTxBytes(chainID string) int { return len((&ledger.Tx{ChainID: chainID}).Encode()) }

// checkTxBytes refuses a tx size no tx on this chain has: below one
// without a memo, or above one with the longest memo. Padded to the
// nearest end instead, the run would measure txs of another size than
// it was asked for.
func (g *Generator) checkTxBytes() error {
	lo := bareTxBytes(g.chainID)
	hi := lo + ledger.TxMemoBytesMax
	if g.cfg.TxBytes != 0 && (g.cfg.TxBytes < lo || g.cfg.TxBytes > hi) {
		return settingErr("TxBytes", "tx size", "%d not in %d..%d bytes, the sizes of a tx on chain %s (0: no memo)", g.cfg.TxBytes, lo, hi, g.chainID)
	}
	return nil
}

// memoBytes is the memo length that brings a tx to want bytes (checked
// by checkTxBytes), or none for 0.
func memoBytes(chainID string, want int) int {
	return min(max(want-bareTxBytes(chainID), 0), ledger.TxMemoBytesMax)
}

// sign fills every record, one account per job on all CPUs. Each
// account's recipients, amounts and memos come from its own seeded
// stream, so the result does not depend on scheduling. It returns the
// encoded size of a tx and what each account's txs cost.
func (g *Generator) sign(nonces []uint64) (int, []uint64) {
	costs := make([]uint64, len(g.accts))
	memoLen := memoBytes(g.chainID, g.cfg.TxBytes)
	jobs := make(chan int, len(g.accts))
	for i := range g.accts {
		jobs <- i
	}
	close(jobs)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range jobs {
				costs[a] = g.signAccount(a, nonces[a], memoLen)
			}
		}()
	}
	wg.Wait()
	if len(g.recs) == 0 {
		return 0, costs
	}
	return len(g.recs[0].raw), costs
}

// signAccount signs account a's run of txs from nonce and returns their
// cost, amounts and fees, saturating at the largest uint64.
func (g *Generator) signAccount(a int, nonce uint64, memoLen int) uint64 {
	var cost uint64
	rng := rand.New(rand.NewPCG(g.cfg.Seed, uint64(a)))
	key := g.cfg.Keys[a]
	acct := g.accts[a]
	for n := range acct.count {
		tx := &ledger.Tx{ChainID: g.chainID, Nonce: nonce + uint64(n), Amount: 1 + rng.Uint64N(g.cfg.AmountMax), Fee: g.cfg.Fee}
		for i := range tx.To {
			tx.To[i] = byte(rng.Uint32())
		}
		if memoLen > 0 {
			tx.Memo = make([]byte, memoLen)
			for i := range tx.Memo {
				tx.Memo[i] = 'a' + byte(rng.IntN(26))
			}
		}
		tx.Sign(key)
		r := &g.recs[acct.first+n]
		r.raw = tx.Encode()
		r.hash = crypto.Sum256(r.raw)
		cost = addSaturating(addSaturating(cost, tx.Amount), tx.Fee)
	}
	return cost
}

func addSaturating(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// Acknowledged returns the hashes the nodes acknowledged, in send order of
// accounts (not time).
func (g *Generator) Acknowledged() []crypto.Hash {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []crypto.Hash
	for i := range g.recs {
		if g.recs[i].state == stateAcked {
			out = append(out, g.recs[i].hash)
		}
	}
	return out
}

// Committed returns each generated tx seen in a committed block with the
// number of times it was seen (1 unless the chain applied it twice).
func (g *Generator) Committed() map[crypto.Hash]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[crypto.Hash]int)
	for i := range g.recs {
		if c := g.recs[i].commits; c > 0 {
			out[g.recs[i].hash] = int(c)
		}
	}
	return out
}

// since is the time since the run started, in nanoseconds.
func (g *Generator) since() int64 { return int64(time.Since(g.base)) - g.startNs.Load() }
