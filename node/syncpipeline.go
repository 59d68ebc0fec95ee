package node

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/p2p"
)

// Block sync runs as a pipeline of three stages, so that the consensus
// loop, which must check, validate and store every block in order on one
// goroutine, never waits for the network or spends its time on tx
// signatures:
//
//  1. fetch: batches of syncBatchBlocks blocks from a peer (fetchRange);
//  2. check ahead: each block's commit certificate; the txs of every
//     certified block are recorded in the node's SigCache (checkAhead);
//  3. the loop: the replica verifies each certificate again and the
//     pending chain validates the block (nonces, balances, state root),
//     finding its signatures vouched for, then the blocks are stored a
//     batch per fsync (apply.go).
//
// A synced block's tx signatures are not verified again. Its commit
// certificate carries 2f+1 validators' COMMITs for its digest, and with at
// most f of them Byzantine, at least f+1 honest validators prepared the
// block, which an honest validator does only after checking every tx's
// signature (ledger.PendingChain.Validate). So the certificate is proof
// that the signatures are valid, just as it is proof that the block is the
// one committed at its height; with more than f Byzantine validators,
// neither holds and the protocol promises nothing. Everything else about
// the block (parent, nonces, balances, state root) is still checked here
// by executing it, since the node needs the resulting state anyway. This
// is PBFT's own state transfer rule: a certified checkpoint is trusted
// without replaying its requests' authentication. It makes catch-up about
// twice as fast, signature checks being about half its work. An operator
// who wants them anyway sets sync.verify_tx_signatures: stage 2 then
// verifies them in large batches and records only the valid ones, so the
// loop verifies a bad one again and refuses its block.
//
// Stage 2 checks certificates ahead of the loop so that the loop, which
// checks them again (the replica trusts nothing it did not verify), finds
// a bad one only if stage 2 would have: a peer serving an uncertified
// block is penalized, and the run fetches from that height again from the
// other peers, without it.

// Block sync pipeline limits.
const (
	// syncFetchAheadBatches: fetched batches waiting for stage 2.
	syncFetchAheadBatches = 2
	// syncCheckBatchTxsMax bounds the txs of the blocks stage 2 checks
	// at once: their certificates' signatures go into one batch, and with
	// sync.verify_tx_signatures their txs' too (a larger batch is cheaper
	// per signature, up to a few thousand).
	syncCheckBatchTxsMax = 4096
	// syncAheadTxsMax bounds the txs verified ahead of the store: their
	// hashes, or their blocks' when vouched for, must still be in the
	// SigCache when the loop validates them (it holds 4,096 block hashes,
	// so blocks of 8 txs or more fit).
	syncAheadTxsMax = 32 << 10
	// syncRunTimeout bounds one sync run; watchPeers starts another if
	// the node is still behind.
	syncRunTimeout = time.Minute
	// syncRequestTimeout bounds one batch request within a run, so a peer
	// that answers slowly or not at all (and p2p's SyncTimeout is as long
	// as a whole run) leaves the run time to ask the others. A full
	// response (p2p's SyncResponseBytesMax, 64 MiB) within it needs about
	// 4.5 MB/s.
	syncRequestTimeout = syncRunTimeout / 4
	// syncAheadPoll is how often stage 2 looks at the store head while it
	// is syncAheadTxsMax ahead.
	syncAheadPoll = time.Millisecond
)

// fetchedBatch is a batch of blocks and the peer that served it.
type fetchedBatch struct {
	from   peer.ID
	blocks []p2p.SyncedBlock
}

// syncRange fetches [from, to] from the candidates (then any connected
// peer) and hands the blocks to the consensus loop in order; it returns
// when done, when no peer serves the next height, or when the run's time
// is up. A peer that serves a block whose certificate does not verify is
// penalized and left out of the rest of the run, which fetches from that
// height again: a Byzantine validator gets its turn in the round of
// batches (fetchRange), and ending the run there would hold catch-up up
// until the idle watch starts another, at each of its turns, until it is
// blocked. Each pass leaves out one more peer, so the passes are bounded
// by the peers.
func (n *Node) syncRange(ctx context.Context, from, to uint64, candidates []peer.ID) {
	ctx, cancel := context.WithTimeout(ctx, syncRunTimeout)
	defer cancel()
	ahead := syncAhead{store: n.store, budget: n.syncAheadBudget()}
	excluded := make(map[peer.ID]bool)
	for from <= to {
		bad, badFrom, ok := n.syncPass(ctx, from, to, candidates, excluded, &ahead)
		if !ok {
			return
		}
		excluded[bad] = true
		from = badFrom
	}
}

// syncPass is one pass of syncRange over [from, to] without the excluded
// peers. It reports ok false when the pass ended (done, no peer serving,
// ctx over); otherwise the peer that served the uncertified block at
// height badFrom, all blocks below it having gone to the loop.
func (n *Node) syncPass(ctx context.Context, from, to uint64, candidates []peer.ID, excluded map[peer.ID]bool, ahead *syncAhead) (bad peer.ID, badFrom uint64, ok bool) {
	ctx, cancel := context.WithCancel(ctx)
	fetched := make(chan fetchedBatch, syncFetchAheadBatches)
	defer func() {
		cancel()
		for range fetched { // the fetcher closes it once it sees ctx end
		}
	}()
	go n.fetchRange(ctx, from, to, candidates, excluded, fetched)
	for fb := range fetched {
		for blocks := fb.blocks; len(blocks) > 0; {
			k := checkChunk(blocks)
			if !ahead.wait(ctx, blockTxs(blocks[:k])) {
				return "", 0, false
			}
			good, err := n.checkAhead(blocks[:k])
			for _, sb := range blocks[:good] {
				if n.driver.deliverSynced(ctx, sb.Block, sb.Certificate) != nil {
					return "", 0, false
				}
				ahead.delivered(sb.Block)
			}
			if err != nil {
				h := blocks[good].Block.Height()
				n.log.Warn("block sync: peer served an uncertified block", "peer", fb.from, "height", h, "err", err)
				n.host.Penalize(fb.from, "block sync: invalid commit certificate")
				return fb.from, h, true
			}
			blocks = blocks[k:]
		}
	}
	return "", 0, false
}

// syncAheadBudget is syncAheadTxsMax, less if the SigCache is small: it
// holds 2*TxsMax hashes (see open) and the mempool adds to it meanwhile.
func (n *Node) syncAheadBudget() int {
	return max(1, min(syncAheadTxsMax, n.cfg.Mempool.TxsMax/2))
}

// fetchRange is stage 1: it fetches [from, to] in batches into out and
// closes out. It asks the candidates and every other connected validator,
// then the other connected peers, never the excluded ones. Only validators run Synod (open refuses
// any other key), at most f of them faulty, while a stranger costs nothing
// to multiply: strangers are asked only when no validator serves. A peer
// that fails a request or has nothing to serve is not asked again in this
// run: whoever claims the highest head is a candidate, and a peer that
// lies about it, then stalls each request, must cost the run one
// syncRequestTimeout, not all of it. The batches go round the validators,
// starting with the candidates, so one that answers in time with a block
// at a time, however slowly, serves only its share of them.
func (n *Node) fetchRange(ctx context.Context, from, to uint64, candidates []peer.ID, excluded map[peer.ID]bool, out chan<- fetchedBatch) {
	defer close(out)
	var vals, strangers []peer.ID
	seen := make(map[peer.ID]bool)
	for _, p := range append(candidates, n.host.Peers()...) {
		switch {
		case seen[p] || excluded[p]:
		case slices.Contains(n.peerOf, p):
			vals = append(vals, p)
		default:
			strangers = append(strangers, p)
		}
		seen[p] = true
	}
	failed := make(map[peer.ID]bool, len(seen))
	next := 0 // the validator asked first for the next batch
	for h := from; h <= to; {
		order := append(append(slices.Clone(vals[next:]), vals[:next]...), strangers...)
		got := 0
		for _, p := range order {
			if failed[p] || ctx.Err() != nil {
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, syncRequestTimeout)
			blocks, err := n.host.FetchBlocks(rctx, p, h, int(min(to-h+1, syncBatchBlocks)))
			cancel()
			if err != nil || len(blocks) == 0 {
				n.log.Debug("block sync", "peer", p, "from", h, "err", err)
				failed[p] = true
				continue
			}
			select {
			case out <- fetchedBatch{from: p, blocks: blocks}:
			case <-ctx.Done():
				return
			}
			got = len(blocks)
			if i := slices.Index(vals, p); i >= 0 {
				next = (i + 1) % len(vals)
			}
			break
		}
		if got == 0 {
			if ctx.Err() == nil {
				n.log.Warn("block sync found no peer serving", "from", h, "to", to)
			}
			return
		}
		h += uint64(got)
	}
}

// checkChunk returns how many of blocks (at least one) stage 2 checks in
// one signature batch.
func checkChunk(blocks []p2p.SyncedBlock) int {
	txs := 0
	for i, sb := range blocks {
		txs += len(sb.Block.Txs)
		if i > 0 && txs > syncCheckBatchTxsMax {
			return i
		}
	}
	return len(blocks)
}

func blockTxs(blocks []p2p.SyncedBlock) int {
	txs := 0
	for _, sb := range blocks {
		txs += len(sb.Block.Txs)
	}
	return txs
}

// checkAhead is stage 2 for blocks: it verifies their certificates against
// the validator set and stops at the first that fails, returning how many
// passed and why the next did not. The passed blocks are recorded in
// n.sigs as vouched for by their certificates, or, with
// sync.verify_tx_signatures, only their txs whose signatures verify.
func (n *Node) checkAhead(blocks []p2p.SyncedBlock) (good int, err error) {
	good, err = n.certs.verifyBlocks(blocks)
	if n.cfg.Sync.VerifyTxSignatures {
		verifyTxSigsOn(syncCheckWorkers(), blocks[:good], n.sigs)
		return good, err
	}
	for _, sb := range blocks[:good] {
		n.sigs.VouchBlock(sb.Block.Hash())
	}
	return good, err
}

// syncCheckWorkers: stage 2 leaves one core to the consensus loop, the
// stage that cannot be split, and takes the others.
func syncCheckWorkers() int { return max(1, runtime.GOMAXPROCS(0)-1) }

// verifyTxSigsOn is verifyTxSigs with the blocks split among workers
// goroutines.
func verifyTxSigsOn(workers int, blocks []p2p.SyncedBlock, cache *ledger.SigCache) {
	workers = min(workers, len(blocks))
	if workers <= 1 {
		verifyTxSigs(blocks, cache)
		return
	}
	var wg sync.WaitGroup
	per := (len(blocks) + workers - 1) / workers
	for part := range slices.Chunk(blocks, per) {
		wg.Go(func() { verifyTxSigs(part, cache) })
	}
	wg.Wait()
}

// verifyTxSigs verifies the signatures of the blocks' txs not yet in cache
// in one batch and records the valid ones.
func verifyTxSigs(blocks []p2p.SyncedBlock, cache *ledger.SigCache) {
	batch := crypto.NewBatchVerifier(blockTxs(blocks))
	var hashes []crypto.Hash
	for _, sb := range blocks {
		for _, tx := range sb.Block.Txs {
			h := tx.Hash()
			if cache.Contains(h) {
				continue
			}
			batch.Add(tx.From, crypto.DomainTx, tx.ChainID, tx.SigningBytes(), tx.Signature)
			hashes = append(hashes, h)
		}
	}
	allValid, valid := batch.Verify()
	for i, h := range hashes {
		if allValid || valid[i] {
			cache.Add(h)
		}
	}
}

// syncAhead keeps stage 2 at most budget txs ahead of the store.
type syncAhead struct {
	store  *ledger.Store
	budget int
	queue  []aheadBlock // delivered blocks, by height
	txs    int          // their txs, less those of blocks since stored
}

type aheadBlock struct {
	height uint64
	txs    int
}

func (a *syncAhead) delivered(b *ledger.Block) {
	a.queue = append(a.queue, aheadBlock{height: b.Height(), txs: len(b.Txs)})
	a.txs += len(b.Txs)
}

// release forgets the delivered blocks the store now holds.
func (a *syncAhead) release() {
	head := a.store.Head().Height
	k := 0
	for k < len(a.queue) && a.queue[k].height <= head {
		a.txs -= a.queue[k].txs
		k++
	}
	a.queue = a.queue[k:]
}

// wait returns true once txs more fit in the budget (always when nothing
// is ahead), false if ctx ends first.
func (a *syncAhead) wait(ctx context.Context, txs int) bool {
	a.release()
	if a.txs == 0 || a.txs+txs <= a.budget {
		return true
	}
	t := time.NewTicker(syncAheadPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		a.release()
		if a.txs == 0 || a.txs+txs <= a.budget {
			return true
		}
	}
}
