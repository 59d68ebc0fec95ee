package ledger_test

import (
	"errors"
	"maps"
	"math"
	"testing"

	"pgregory.net/rapid"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// refLedger is an independent, deliberately naive model of the account
// state machine: a map updated one tx at a time, with the rules written
// out again from the Tx and ExecuteBlock docs.
type refLedger struct {
	chainID  string
	accounts map[crypto.Address]ledger.Account
}

// apply applies tx if it is valid on the model and reports whether it was.
func (r *refLedger) apply(tx *ledger.Tx) bool {
	if ledger.CheckTx(r.chainID, tx) != nil {
		return false
	}
	from := tx.From.Address()
	s := r.accounts[from]
	if tx.Nonce != s.Nonce || tx.Amount > math.MaxUint64-tx.Fee || s.Balance < tx.Amount+tx.Fee {
		return false
	}
	s.Balance -= tx.Amount + tx.Fee
	s.Nonce++
	r.accounts[from] = s
	r.credit(tx.To, tx.Amount)
	return true
}

func (r *refLedger) credit(addr crypto.Address, amount uint64) {
	if amount == 0 {
		return
	}
	a := r.accounts[addr]
	a.Balance += amount
	r.accounts[addr] = a
}

// build is BuildBlock's selection rule on the model: candidates in order,
// stop at the tx limit, skip what does not fit or is invalid so far.
func (r *refLedger) build(t ledger.BlockTemplate, candidates []*ledger.Tx) []*ledger.Tx {
	size := len(ledger.EncodeHeader(&ledger.Header{ChainID: t.ChainID})) + 4
	var included []*ledger.Tx
	var fees uint64
	for _, tx := range candidates {
		if len(included) == int(t.Params.BlockTxsMax) {
			break
		}
		txSize := 2 + len(tx.Encode())
		if size+txSize > int(t.Params.BlockBytesMax) || !r.apply(tx) {
			continue
		}
		included = append(included, tx)
		size += txSize
		fees += tx.Fee
	}
	r.credit(t.Proposer, fees)
	return included
}

// Account indices used by the generators: 0..funded-1 hold genesis funds,
// the next two start empty, and fresh recipients start at freshBase.
const freshBase = 900

// genCandidates draws block candidates among the accounts of st: mostly
// transfers meant to be valid (each sender's nonces in order), mixed with
// ones BuildBlock must skip: bad signature, wrong chain, stale nonce,
// nonce gap, overdraft, amount+fee overflow, small-order sender.
func genCandidates(t *rapid.T, st *ledger.MemState, funded int) []*ledger.Tx {
	senders := funded + 2
	next := make([]uint64, senders)
	for i := range next {
		a, _ := st.GetAccount(testAddr(i))
		next[i] = a.Nonce
	}
	n := rapid.IntRange(0, 10).Draw(t, "candidates")
	out := make([]*ledger.Tx, 0, n)
	for range n {
		s := rapid.IntRange(0, senders-1).Draw(t, "sender")
		acc, _ := st.GetAccount(testAddr(s))
		var to crypto.Address
		switch rapid.IntRange(0, 3).Draw(t, "to kind") {
		case 0:
			to = testAddr(s)
		case 1:
			to = testAddr(freshBase + rapid.IntRange(0, 50).Draw(t, "fresh"))
		default:
			to = testAddr(rapid.IntRange(0, senders-1).Draw(t, "to"))
		}
		amount := rapid.Uint64Range(0, acc.Balance/2+1).Draw(t, "amount")
		fee := rapid.Uint64Range(0, 20).Draw(t, "fee")
		memo := genBytesN(rapid.IntRange(0, 3).Draw(t, "memo len")).Draw(t, "memo")
		chain := testChain
		nonce := next[s]
		kind := rapid.IntRange(0, 13).Draw(t, "kind")
		switch kind {
		case 7:
			chain = "synod-other"
		case 8:
			if nonce == 0 {
				nonce = 1 // a gap instead
			} else {
				nonce--
			}
		case 9:
			nonce += 1 + rapid.Uint64Range(0, 3).Draw(t, "gap")
		case 10:
			amount = acc.Balance + 1
		case 11:
			amount, fee = math.MaxUint64, 1
		}
		tx := signedTx(chain, testKey(s), nonce, to, amount, fee, memo)
		switch kind {
		case 12:
			bit := rapid.IntRange(0, 8*crypto.SignatureBytes-1).Draw(t, "bit")
			tx.Signature[bit/8] ^= 1 << (bit % 8)
		case 13:
			tx.From = identityKey
		}
		if kind < 7 {
			next[s]++
		}
		out = append(out, tx)
	}
	return out
}

func genParams(t *rapid.T) ledger.ConsensusParams {
	p := ledger.DefaultConsensusParams()
	if rapid.IntRange(0, 3).Draw(t, "tight txs") == 0 {
		p.BlockTxsMax = rapid.Uint32Range(1, 4).Draw(t, "block txs max")
	}
	if rapid.IntRange(0, 3).Draw(t, "tight bytes") == 0 {
		p.BlockBytesMax = rapid.Uint32Range(722, 1200).Draw(t, "block bytes max")
	}
	return p
}

// TestBuiltBlocksConserveSupplyAndKeepRootExact checks the state machine's
// invariants over random chains: rapid draws funded accounts and a few
// blocks of random candidates (some BuildBlock must skip); each block is
// built, checked against a naive model, revalidated, and committed, and
// then supply is conserved, nonces never fall, and the incremental root
// equals the root recomputed from scratch.
func TestBuiltBlocksConserveSupplyAndKeepRootExact(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		funded := rapid.IntRange(1, 4).Draw(t, "funded")
		balances := make([]uint64, funded)
		for i := range balances {
			balances[i] = rapid.Uint64Range(1, 1_000_000).Draw(t, "balance")
		}
		if rapid.Bool().Draw(t, "rich") {
			// Near the top of uint64, so overflow guards are exercised.
			balances[0] = math.MaxUint64 - uint64(funded)*1_000_000
		}
		g := testGenesis(1, balances...)
		g.Consensus = genParams(t)
		c := startChain(t, g)
		total := g.TotalSupply()
		model := &refLedger{chainID: testChain, accounts: c.state.Accounts()}

		for range rapid.IntRange(1, 4).Draw(t, "blocks") {
			candidates := genCandidates(t, c.state, funded)
			proposer := testAddr(rapid.IntRange(0, funded+3).Draw(t, "proposer"))
			tmpl := c.template(proposer)
			want := model.build(tmpl, candidates)

			b, built := c.build(t, proposer, candidates)
			if len(b.Txs) != len(want) {
				t.Fatalf("BuildBlock included %d of %d candidates, model includes %d", len(b.Txs), len(candidates), len(want))
			}
			for i := range want {
				if b.Txs[i] != want[i] {
					t.Fatalf("tx %d of the block differs from the model's choice", i)
				}
			}
			before := c.state.Accounts()
			c.commit(t, b)
			if built.Root() != b.Header.StateRoot {
				t.Fatalf("BuildBlock's diff root differs from its header's state root")
			}

			after := c.state.Accounts()
			if got := supply(t, after); got != total {
				t.Fatalf("supply %d after height %d, genesis %d", got, b.Header.Height, total)
			}
			for addr, a := range before {
				if after[addr].Nonce < a.Nonce {
					t.Fatalf("nonce of %s fell from %d to %d", addr, a.Nonce, after[addr].Nonce)
				}
			}
			if root := rootFromScratch(after); root != b.Header.StateRoot {
				t.Fatalf("incremental root %s, from scratch %s", b.Header.StateRoot, root)
			}
			if !maps.Equal(after, model.accounts) {
				t.Fatalf("state differs from the model:\n got %v\nwant %v", after, model.accounts)
			}
		}
	})
}

// invalidKinds are the ways a tx inserted into a valid block can be wrong,
// with the error each must be reported with.
var invalidKinds = []struct {
	name string
	want error
}{
	{"bad signature bit", ledger.ErrTxBadSignature},
	{"wrong chain id", ledger.ErrTxWrongChain},
	{"nonce replay", ledger.ErrTxNonceTooLow},
	{"nonce gap", ledger.ErrTxNonceGap},
	{"overdraft", ledger.ErrTxInsufficientFunds},
	{"amount+fee overflow", ledger.ErrTxAmountOverflow},
	{"small-order sender", ledger.ErrTxBadSender},
}

// TestInvalidTxRejectsWholeBlock checks that one invalid tx anywhere in an
// otherwise valid block makes ValidateBlock and ExecuteBlock reject the
// block with that tx's reason and leaves the state untouched: rapid builds
// a valid block, draws a position and a kind of invalid tx, and inserts it.
func TestInvalidTxRejectsWholeBlock(t *testing.T) {
	const funded = 4
	rapid.Check(t, func(t *rapid.T) {
		c := startChain(t, testGenesis(1, 5000, 5000, 5000, 5000))
		// A first block where every funded account sends once, so each has
		// a nonce to replay.
		sent := map[crypto.Address][]*ledger.Tx{}
		var first []*ledger.Tx
		for i := range funded {
			tx := signedTx(testChain, testKey(i), 0, testAddr((i+1)%funded), 100, 1, nil)
			first = append(first, tx)
			sent[testAddr(i)] = append(sent[testAddr(i)], tx)
		}
		b1, _ := c.build(t, testAddr(0), first)
		c.commit(t, b1)

		b, _ := c.build(t, testAddr(funded), genCandidates(t, c.state, funded))
		p := rapid.IntRange(0, len(b.Txs)).Draw(t, "position")
		model := &refLedger{chainID: testChain, accounts: c.state.Accounts()}
		for _, tx := range b.Txs[:p] {
			if !model.apply(tx) {
				t.Fatalf("the model refuses a tx BuildBlock included")
			}
			sent[tx.Sender()] = append(sent[tx.Sender()], tx)
		}
		s := rapid.IntRange(0, funded-1).Draw(t, "sender")
		acc := model.accounts[testAddr(s)]
		k := rapid.IntRange(0, len(invalidKinds)-1).Draw(t, "kind")
		to := testAddr(rapid.IntRange(0, funded).Draw(t, "to"))
		amount := rapid.Uint64Range(0, acc.Balance).Draw(t, "amount")
		var bad *ledger.Tx
		switch invalidKinds[k].name {
		case "bad signature bit":
			bad = signedTx(testChain, testKey(s), acc.Nonce, to, amount, 0, nil)
			bit := rapid.IntRange(0, 8*crypto.SignatureBytes-1).Draw(t, "bit")
			bad.Signature[bit/8] ^= 1 << (bit % 8)
		case "wrong chain id":
			bad = signedTx("synod-other", testKey(s), acc.Nonce, to, amount, 0, nil)
		case "nonce replay":
			prev := sent[testAddr(s)]
			bad = prev[rapid.IntRange(0, len(prev)-1).Draw(t, "replayed")]
		case "nonce gap":
			bad = signedTx(testChain, testKey(s), acc.Nonce+1+rapid.Uint64Range(0, 5).Draw(t, "gap"), to, amount, 0, nil)
		case "overdraft":
			fee := rapid.Uint64Range(0, 10).Draw(t, "fee")
			bad = signedTx(testChain, testKey(s), acc.Nonce, to, acc.Balance+1-min(fee, acc.Balance+1), fee, nil)
			if bad.Amount+bad.Fee <= acc.Balance {
				t.Fatalf("fixture: overdraft tx costs %d of a balance of %d", bad.Amount+bad.Fee, acc.Balance)
			}
		case "amount+fee overflow":
			fee := rapid.Uint64Range(1, 1000).Draw(t, "fee")
			bad = signedTx(testChain, testKey(s), acc.Nonce, to, math.MaxUint64-fee+1+rapid.Uint64Range(0, fee-1).Draw(t, "over"), fee, nil)
		case "small-order sender":
			bad = signedTx(testChain, testKey(s), acc.Nonce, to, amount, 0, nil)
			bad.From = identityKey
		}
		b.Txs = append(b.Txs[:p:p], append([]*ledger.Tx{bad}, b.Txs[p:]...)...)
		// The attacker recomputes the tx root, so the tx itself is judged.
		b.Header.TxRoot = ledger.MerkleRoot(b.TxHashes())

		snap := takeSnapshot(c.state)
		want := invalidKinds[k].want
		diff, err := ledger.ValidateBlock(testChain, c.params, &c.head, c.state, b)
		if !errors.Is(err, ledger.ErrBlockBadTx) || !errors.Is(err, want) || diff != nil {
			t.Fatalf("ValidateBlock with a %s tx at %d of %d: diff %v, err = %v; want ErrBlockBadTx and %v",
				invalidKinds[k].name, p, len(b.Txs), diff != nil, err, want)
		}
		diff, err = ledger.ExecuteBlock(testChain, c.state, b)
		if !errors.Is(err, ledger.ErrBlockBadTx) || !errors.Is(err, want) || diff != nil {
			t.Fatalf("ExecuteBlock with a %s tx at %d: err = %v; want %v", invalidKinds[k].name, p, err, want)
		}
		if !snap.same(c.state) {
			t.Fatalf("a rejected block changed the state")
		}
	})
}
