package mempool

import (
	"bytes"
	"errors"
	"math/big"
	"slices"
	"sync"
	"testing"

	"pgregory.net/rapid"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// poolModel is an independent, deliberately naive model of the pool: a
// map of sorted slices, every rule written out again from the docs, every
// choice (victim, next tx to reap) made by scanning everything.
type poolModel struct {
	cfg   Config
	state ledger.StateReader
	accts map[crypto.Address]ledger.Account
	txs   map[crypto.Address][]*modelTx
	seq   uint64
}

type modelTx struct {
	tx   *ledger.Tx
	hash crypto.Hash
	size int
	seq  uint64
}

func (t *modelTx) cost() *big.Int {
	return new(big.Int).Add(new(big.Int).SetUint64(t.tx.Amount), new(big.Int).SetUint64(t.tx.Fee))
}

func newPoolModel(cfg Config, state ledger.StateReader) *poolModel {
	return &poolModel{cfg: cfg, state: state, accts: map[crypto.Address]ledger.Account{}, txs: map[crypto.Address][]*modelTx{}}
}

func (p *poolModel) clone() *poolModel {
	c := *p
	c.accts = make(map[crypto.Address]ledger.Account, len(p.accts))
	c.txs = make(map[crypto.Address][]*modelTx, len(p.txs))
	for a, acct := range p.accts {
		c.accts[a] = acct
	}
	for a, txs := range p.txs {
		c.txs[a] = slices.Clone(txs)
	}
	return &c
}

func (p *poolModel) totals() (count, size int) {
	for _, txs := range p.txs {
		for _, t := range txs {
			count++
			size += t.size
		}
	}
	return count, size
}

func (p *poolModel) spent(addr crypto.Address) *big.Int {
	s := new(big.Int)
	for _, t := range p.txs[addr] {
		s.Add(s, t.cost())
	}
	return s
}

// refresh applies the recheck rule: drop nonces below the account's, then
// the highest until the balance covers the rest.
func (p *poolModel) refresh(addr crypto.Address, acct ledger.Account) {
	p.accts[addr] = acct
	txs := p.txs[addr]
	for len(txs) > 0 && txs[0].tx.Nonce < acct.Nonce {
		txs = txs[1:]
	}
	p.txs[addr] = txs
	for len(p.txs[addr]) > 0 && p.spent(addr).Cmp(new(big.Int).SetUint64(acct.Balance)) > 0 {
		p.txs[addr] = p.txs[addr][:len(p.txs[addr])-1]
	}
	if len(p.txs[addr]) == 0 {
		delete(p.txs, addr)
		delete(p.accts, addr)
	}
}

// add returns the sentinel the pool must reject tx with, or nil after
// taking it.
func (p *poolModel) add(tx *ledger.Tx) error {
	sentinel := func(err error) error {
		for _, s := range allSentinels {
			if errors.Is(err, s) {
				return s
			}
		}
		return err
	}
	mt := &modelTx{tx: tx, hash: tx.Hash(), size: len(tx.Encode())}
	for _, txs := range p.txs {
		for _, t := range txs {
			if t.hash == mt.hash {
				return ErrDuplicate
			}
		}
	}
	if err := ledger.CheckTxFields(p.cfg.ChainID, tx); err != nil {
		return sentinel(err)
	}
	// A full pool turns a tx away before its signature is checked when
	// it replaces nothing and no tail is cheaper.
	if p.surelyFull(mt) {
		return ErrMempoolFull
	}
	// So does the sender's account refuse a used nonce, a nonce past the
	// window and a cost above the balance, whatever else is pending.
	from := tx.Sender()
	acct, _ := p.state.GetAccount(from)
	if tx.Nonce < acct.Nonce {
		return ledger.ErrTxNonceTooLow
	}
	if tx.Nonce > acct.Nonce+p.cfg.NonceAheadMax {
		// The sender's next nonce, every one below it pending, is a
		// sender limit, not a gap.
		next := acct.Nonce
		for slices.ContainsFunc(p.txs[from], func(t *modelTx) bool { return t.tx.Nonce == next }) {
			next++
		}
		if next == tx.Nonce {
			return ErrSenderFull
		}
		return ErrNonceTooFarAhead
	}
	if mt.cost().Cmp(new(big.Int).SetUint64(acct.Balance)) > 0 {
		return ledger.ErrTxInsufficientFunds
	}
	if err := ledger.CheckTx(p.cfg.ChainID, tx); err != nil {
		return sentinel(err)
	}
	if _, ok := p.txs[from]; ok {
		p.refresh(from, acct)
	}
	var old *modelTx
	for _, t := range p.txs[from] {
		if t.tx.Nonce == tx.Nonce {
			old = t
		}
	}
	switch {
	case old != nil && old.tx.To == tx.To && old.tx.Amount == tx.Amount && old.tx.Fee == tx.Fee && bytes.Equal(old.tx.Memo, tx.Memo):
		return ErrDuplicate
	case old != nil && !bumped(old.tx.Fee, tx.Fee, p.cfg.ReplaceFeeBumpPercent):
		return ErrReplacementUnderpriced
	case old == nil && len(p.txs[from]) >= p.cfg.PerSenderTxsMax:
		return ErrSenderFull
	}
	need := p.spent(from).Add(p.spent(from), mt.cost())
	if old != nil {
		need.Sub(need, old.cost())
	}
	if need.Cmp(new(big.Int).SetUint64(acct.Balance)) > 0 {
		return ledger.ErrTxInsufficientFunds
	}
	bid, free := tx.Fee, acct.Nonce
	for slices.ContainsFunc(p.txs[from], func(t *modelTx) bool { return t.tx.Nonce == free }) {
		free++
	}
	if tx.Nonce > free {
		bid = 0
	}
	next := p.clone()
	if !next.makeRoom(from, old, mt, bid) {
		return ErrMempoolFull
	}
	*p = *next
	p.accts[from] = acct
	p.seq++
	mt.seq = p.seq
	txs := slices.DeleteFunc(p.txs[from], func(t *modelTx) bool { return t == old })
	i, _ := slices.BinarySearchFunc(txs, tx.Nonce, func(t *modelTx, n uint64) int { return cmpU64(t.tx.Nonce, n) })
	p.txs[from] = slices.Insert(txs, i, mt)
	return nil
}

// surelyFull: the pool is at a limit, no pending tx has mt's sender and
// nonce, and every sender's last tx pays at least mt's fee.
func (p *poolModel) surelyFull(mt *modelTx) bool {
	count, size := p.totals()
	if count < p.cfg.TxsMax && size+mt.size <= p.cfg.BytesMax {
		return false
	}
	for _, t := range p.txs[mt.tx.Sender()] {
		if t.tx.Nonce == mt.tx.Nonce {
			return false
		}
	}
	for addr := range p.txs {
		if p.evictFee(addr) < mt.tx.Fee {
			return false
		}
	}
	return true
}

// tailQueued: addr's last tx waits behind a nonce gap.
func (p *poolModel) tailQueued(addr crypto.Address) bool {
	txs := p.txs[addr]
	return txs[len(txs)-1].tx.Nonce != p.accts[addr].Nonce+uint64(len(txs)-1)
}

// evictFee: what addr's last tx counts as paying for eviction, nothing
// behind a nonce gap.
func (p *poolModel) evictFee(addr crypto.Address) uint64 {
	if p.tailQueued(addr) {
		return 0
	}
	txs := p.txs[addr]
	return txs[len(txs)-1].tx.Fee
}

// bumped is the replacement rule in exact arithmetic: fee >= old * (100 +
// pct) / 100, and fee > old.
func bumped(old, fee, pct uint64) bool {
	lhs := new(big.Int).Mul(new(big.Int).SetUint64(fee), big.NewInt(100))
	rhs := new(big.Int).Mul(new(big.Int).SetUint64(old), new(big.Int).SetUint64(100+pct))
	return fee > old && lhs.Cmp(rhs) >= 0
}

// makeRoom evicts other senders' tails behind a nonce gap, then their
// cheapest tails (newest first among equal fees), while the pool with mt
// would be over a limit; bid is mt's fee, or 0 if mt is behind a gap.
func (p *poolModel) makeRoom(own crypto.Address, old, mt *modelTx, bid uint64) bool {
	for {
		count, size := p.totals()
		count++
		size += mt.size
		if old != nil {
			count--
			size -= old.size
		}
		if count <= p.cfg.TxsMax && size <= p.cfg.BytesMax {
			return true
		}
		var victim crypto.Address
		var best *modelTx
		for addr, txs := range p.txs {
			tail := txs[len(txs)-1]
			if addr == own {
				continue
			}
			if best == nil || p.tailQueued(addr) && !p.tailQueued(victim) ||
				p.tailQueued(addr) == p.tailQueued(victim) && (tail.tx.Fee < best.tx.Fee || (tail.tx.Fee == best.tx.Fee && tail.seq > best.seq)) {
				victim, best = addr, tail
			}
		}
		if best == nil || p.evictFee(victim) >= bid {
			return false
		}
		p.txs[victim] = p.txs[victim][:len(p.txs[victim])-1]
		if len(p.txs[victim]) == 0 {
			delete(p.txs, victim)
			delete(p.accts, victim)
		}
	}
}

func (p *poolModel) update(committed []*ledger.Tx, state ledger.StateReader) {
	p.state = state
	for _, tx := range committed {
		if _, ok := p.txs[tx.Sender()]; ok {
			acct, _ := state.GetAccount(tx.Sender())
			p.refresh(tx.Sender(), acct)
		}
	}
}

// reap picks, again and again, the best next tx among every sender's by
// scanning them all.
func (p *poolModel) reap(maxTxs, maxBytes int) []*ledger.Tx {
	taken := map[crypto.Address]int{}
	blocked := map[crypto.Address]bool{}
	var out []*ledger.Tx
	for len(out) < maxTxs {
		var best *modelTx
		var bestAddr crypto.Address
		for addr, txs := range p.txs {
			k := taken[addr]
			if blocked[addr] || k >= len(txs) || txs[k].tx.Nonce != p.accts[addr].Nonce+uint64(k) {
				continue
			}
			if best == nil || txs[k].tx.Fee > best.tx.Fee || (txs[k].tx.Fee == best.tx.Fee && txs[k].seq < best.seq) {
				best, bestAddr = txs[k], addr
			}
		}
		if best == nil {
			return out
		}
		if best.size > maxBytes {
			blocked[bestAddr] = true
			continue
		}
		out = append(out, best.tx)
		maxBytes -= best.size
		taken[bestAddr]++
	}
	return out
}

func (p *poolModel) pendingNonce(addr crypto.Address) uint64 {
	txs, ok := p.txs[addr]
	if !ok {
		acct, _ := p.state.GetAccount(addr)
		return acct.Nonce
	}
	n := p.accts[addr].Nonce
	for _, t := range txs {
		if t.tx.Nonce != n {
			break
		}
		n++
	}
	return n
}

func (p *poolModel) pending() []crypto.Hash {
	addrs := make([]crypto.Address, 0, len(p.txs))
	for a := range p.txs {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, func(a, b crypto.Address) int { return bytes.Compare(a[:], b[:]) })
	var out []crypto.Hash
	for _, a := range addrs {
		for _, t := range p.txs[a] {
			out = append(out, t.hash)
		}
	}
	return out
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// propSenders is how many accounts the property test sends from.
const propSenders = 5

// txParams names one tx of the property test's universe.
type txParams struct {
	sender      int
	nonce       uint64
	amount, fee uint64
	memo        bool
	foreign     bool // to another recipient: a different tx at the same slot
	wrongChain  bool
}

var (
	propTxsMu sync.Mutex
	propTxs   = map[txParams]*ledger.Tx{}
)

// propTx signs each distinct tx once for the whole test binary.
func propTx(p txParams) *ledger.Tx {
	propTxsMu.Lock()
	defer propTxsMu.Unlock()
	if tx, ok := propTxs[p]; ok {
		return tx
	}
	tx := &ledger.Tx{ChainID: testChain, Nonce: p.nonce, To: sink, Amount: p.amount, Fee: p.fee}
	if p.memo {
		tx.Memo = bytes.Repeat([]byte{'m'}, 200)
	}
	if p.foreign {
		tx.To = crypto.Address{0x77}
	}
	if p.wrongChain {
		tx.ChainID = "other-chain"
	}
	tx.Sign(testKey(p.sender))
	propTxs[p] = tx
	return tx
}

// TestPoolMatchesModel runs random Add, Reap, commit (Update) and
// rebroadcast sequences against the pool and the naive model, checking
// after every step that both hold the same txs, that the pool's limits and
// structural invariants hold, that Reap equals the model's choice, keeps
// each sender's nonces consecutive, and that BuildBlock on the committed
// state includes every reaped tx.
func TestPoolMatchesModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		balances := make([]uint64, propSenders)
		for i := range balances {
			balances[i] = rapid.SampledFrom([]uint64{0, 60, 500, 100_000}).Draw(rt, "balance")
		}
		chain := newTestChain(balances...)
		cfg := testConfig()
		cfg.TxsMax = rapid.IntRange(1, 10).Draw(rt, "TxsMax")
		cfg.BytesMax = rapid.SampledFrom([]int{ledger.TxBytesMax, 1200, 1 << 20}).Draw(rt, "BytesMax")
		cfg.PerSenderTxsMax = rapid.IntRange(1, 6).Draw(rt, "PerSenderTxsMax")
		cfg.NonceAheadMax = rapid.Uint64Range(0, 6).Draw(rt, "NonceAheadMax")
		cfg.ReplaceFeeBumpPercent = rapid.Uint64Range(1, 100).Draw(rt, "ReplaceFeeBumpPercent")
		cfg.RebroadcastTxsMax = rapid.IntRange(1, 4).Draw(rt, "RebroadcastTxsMax")
		m, err := New(cfg, chain.state)
		if err != nil {
			rt.Fatalf("New: %v", err)
		}
		model := newPoolModel(cfg, chain.state)
		var now int64

		rt.Repeat(map[string]func(*rapid.T){
			"add": func(rt *rapid.T) {
				s := rapid.IntRange(0, propSenders-1).Draw(rt, "sender")
				acct, _ := chain.state.GetAccount(testAddr(s))
				p := txParams{
					sender:     s,
					nonce:      acct.Nonce + rapid.Uint64Range(0, 7).Draw(rt, "ahead") - min(acct.Nonce, rapid.Uint64Range(0, 1).Draw(rt, "behind")),
					amount:     rapid.SampledFrom([]uint64{1, 30, 250}).Draw(rt, "amount"),
					fee:        rapid.SampledFrom([]uint64{0, 1, 2, 10, 11, 50}).Draw(rt, "fee"),
					memo:       rapid.Bool().Draw(rt, "memo"),
					foreign:    rapid.IntRange(0, 9).Draw(rt, "foreign") == 0,
					wrongChain: rapid.IntRange(0, 29).Draw(rt, "wrongChain") == 0,
				}
				tx := propTx(p)
				want := model.add(tx)
				got := m.Add(tx)
				if (want == nil) != (got == nil) || (want != nil && !errors.Is(got, want)) {
					rt.Fatalf("Add %+v: %v, model says %v", p, got, want)
				}
			},
			"reap": func(rt *rapid.T) {
				maxTxs := rapid.IntRange(0, 12).Draw(rt, "maxTxs")
				maxBytes := rapid.SampledFrom([]int{100, ledger.TxBytesMax, 1000, 1 << 20}).Draw(rt, "maxBytes")
				got := m.Reap(maxTxs, maxBytes)
				if want := model.reap(maxTxs, maxBytes); !slices.Equal(hashes(got), hashes(want)) {
					rt.Fatalf("Reap(%d, %d): fees %v, model says %v", maxTxs, maxBytes, fees(got), fees(want))
				}
				checkReaped(rt, chain, got)
			},
			"commit": func(rt *rapid.T) {
				candidates := m.Reap(rapid.IntRange(0, 12).Draw(rt, "reap"), 1<<20)
				if rapid.Bool().Draw(rt, "foreignFirst") {
					s := rapid.IntRange(0, propSenders-1).Draw(rt, "foreignSender")
					acct, _ := chain.state.GetAccount(testAddr(s))
					amount := rapid.SampledFrom([]uint64{1, 30, 250}).Draw(rt, "foreignAmount")
					candidates = append([]*ledger.Tx{propTx(txParams{sender: s, nonce: acct.Nonce, amount: amount, foreign: true})}, candidates...)
				}
				committed := chain.commit(rt, candidates...)
				m.Update(committed, chain.state)
				model.update(committed, chain.state)
			},
			"rebroadcast": func(rt *rapid.T) {
				now += rapid.Int64Range(0, 100).Draw(rt, "elapsed")
				got := m.ForRebroadcast(now, rapid.Int64Range(0, 150).Draw(rt, "interval"))
				if len(got) > cfg.RebroadcastTxsMax {
					rt.Fatalf("ForRebroadcast returned %d txs, bound %d", len(got), cfg.RebroadcastTxsMax)
				}
			},
			"": func(rt *rapid.T) {
				if err := m.checkInvariants(); err != nil {
					rt.Fatal(err)
				}
				pending := m.Pending()
				if want := model.pending(); !slices.Equal(hashes(pending), want) {
					rt.Fatalf("pool holds %d txs, model %d (or in another order)", len(pending), len(want))
				}
				count, size := model.totals()
				if n, b := m.Size(); n != count || b != size {
					rt.Fatalf("Size = %d txs, %d bytes; model %d, %d", n, b, count, size)
				}
				for s := range propSenders {
					if got, err := m.PendingNonce(testAddr(s)); err != nil || got != model.pendingNonce(testAddr(s)) {
						rt.Fatalf("PendingNonce(sender %d) = %d, %v, model %d", s, got, err, model.pendingNonce(testAddr(s)))
					}
				}
			},
		})
	})
}

// checkReaped checks that reaped txs keep each sender's nonces consecutive
// from its account nonce and that BuildBlock on the committed state takes
// every one of them.
func checkReaped(rt *rapid.T, chain *testChainState, got []*ledger.Tx) {
	next := map[crypto.Address]uint64{}
	for _, tx := range got {
		from := tx.Sender()
		want, ok := next[from]
		if !ok {
			acct, _ := chain.state.GetAccount(from)
			want = acct.Nonce
		}
		if tx.Nonce != want {
			rt.Fatalf("reaped nonce %d of %s, want %d", tx.Nonce, from, want)
		}
		next[from] = want + 1
	}
	if b, _ := chain.build(rt, got); len(b.Txs) != len(got) {
		rt.Fatalf("BuildBlock took %d of %d reaped txs", len(b.Txs), len(got))
	}
}

// TestUnreadSendersLoseNothing runs random Add, Reap and commit sequences
// in which each Update fails to read a random set of senders, and checks
// after every step that the pool's invariants hold, that every reap is
// taken whole by BuildBlock on the committed state (so no used nonce is
// proposed), and that an accepted tx leaves the pool only once its nonce
// is used or a later tx replaced it; funds and room are ample, so nothing
// else may drop one. A final Update that reads everything leaves no
// sender stale.
func TestUnreadSendersLoseNothing(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		balances := make([]uint64, propSenders)
		for i := range balances {
			balances[i] = 1 << 40
		}
		chain := newTestChain(balances...)
		m, err := New(testConfig(), chain.state)
		if err != nil {
			rt.Fatalf("New: %v", err)
		}
		type slot struct {
			sender int
			nonce  uint64
		}
		accepted := map[slot]*ledger.Tx{}
		update := func(committed []*ledger.Tx, failing map[crypto.Address]bool) {
			m.Update(committed, flakyState{chain.state, failing})
		}

		rt.Repeat(map[string]func(*rapid.T){
			"add": func(rt *rapid.T) {
				s := rapid.IntRange(0, propSenders-1).Draw(rt, "sender")
				acct, _ := chain.state.GetAccount(testAddr(s))
				p := txParams{
					sender: s,
					nonce:  acct.Nonce + rapid.Uint64Range(0, 5).Draw(rt, "ahead"),
					amount: rapid.SampledFrom([]uint64{1, 30, 250}).Draw(rt, "amount"),
					fee:    rapid.SampledFrom([]uint64{1, 2, 50}).Draw(rt, "fee"),
				}
				tx := propTx(p)
				if m.Add(tx) == nil {
					accepted[slot{s, p.nonce}] = tx
				}
			},
			"reap": func(rt *rapid.T) {
				checkReaped(rt, chain, m.Reap(rapid.IntRange(1, 12).Draw(rt, "maxTxs"), 1<<20))
			},
			"commit": func(rt *rapid.T) {
				candidates := m.Reap(rapid.IntRange(0, 12).Draw(rt, "reap"), 1<<20)
				if rapid.Bool().Draw(rt, "foreignFirst") {
					s := rapid.IntRange(0, propSenders-1).Draw(rt, "foreignSender")
					acct, _ := chain.state.GetAccount(testAddr(s))
					candidates = append([]*ledger.Tx{propTx(txParams{sender: s, nonce: acct.Nonce, amount: 1, foreign: true})}, candidates...)
				}
				failing := map[crypto.Address]bool{}
				for s := range propSenders {
					if rapid.IntRange(0, 2).Draw(rt, "unreadable") == 0 {
						failing[testAddr(s)] = true
					}
				}
				update(chain.commit(rt, candidates...), failing)
			},
			"": func(rt *rapid.T) {
				if err := m.checkInvariants(); err != nil {
					rt.Fatal(err)
				}
				for at, tx := range accepted {
					if _, ok := m.Get(tx.Hash()); ok {
						continue
					}
					if acct, _ := chain.state.GetAccount(testAddr(at.sender)); at.nonce >= acct.Nonce {
						rt.Fatalf("sender %d's nonce %d left the pool unused (account nonce %d)", at.sender, at.nonce, acct.Nonce)
					}
					delete(accepted, at)
				}
			},
		})
		update(nil, nil)
		if err := m.checkInvariants(); err != nil {
			rt.Fatal(err)
		}
		if len(m.stale) != 0 {
			rt.Fatalf("%d senders stale after an Update that read them all", len(m.stale))
		}
		checkReaped(rt, chain, m.Reap(100, 1<<20))
	})
}
