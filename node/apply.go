package node

import (
	"errors"
	"fmt"
	"time"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/ledger"
)

// syncApplyBlocksMax bounds the synced blocks the loop takes at once and
// stores in one fsynced batch. Until they are stored, each block's state
// is an overlay on its parent's, and an account read walks the overlays:
// a few dozen keeps that walk short while an fsync serves many blocks.
const syncApplyBlocksMax = 32

// takeSynced hands the replica first and the synced blocks queued behind
// it (up to syncApplyBlocksMax, without waiting for more). The replica
// verifies each one's certificate and validates it exactly as for a single
// block; the ones it commits are then stored together, in the background
// while the loop validates the next ones (storeInBackground).
func (d *driver) takeSynced(first deliveredBlock) error {
	batch := make([]deliveredBlock, 1, syncApplyBlocksMax)
	batch[0] = first
drain:
	for len(batch) < syncApplyBlocksMax {
		select {
		case s := <-d.synced:
			batch = append(batch, s)
		default:
			break drain
		}
	}
	for _, s := range batch {
		err := d.replica.DeliverCommitted(s.block, s.cert)
		if errors.Is(err, ledger.ErrLocalState) {
			break // the replica halted on this node's state: handleReady stops the loop
		}
		if err != nil && !errors.Is(err, pbft.ErrNotNext) {
			d.log.Warn("synced block refused", "height", s.block.Height(), "err", err)
		}
	}
	d.applyingSynced = true
	defer func() { d.applyingSynced = false }()
	return d.handleReady()
}

// storeWrite is a batch of synced blocks the store is taking in the
// background.
type storeWrite struct {
	writes []ledger.BlockWrite
	done   chan error // the write's outcome, sent once
}

// storeDone is the channel the write in progress reports on; nil (never
// ready) when there is none.
func (d *driver) storeDone() <-chan error {
	if d.storing == nil {
		return nil
	}
	return d.storing.done
}

// awaitStore waits for the write in progress, if any, and finishes it.
func (d *driver) awaitStore() error {
	if d.storing == nil {
		return nil
	}
	return d.finishStore(<-d.storing.done)
}

// finishStore ends the write in progress with its outcome: its staged
// layer goes, the store holding it now, and the mempool, the metrics and
// the observer hear of its blocks.
func (d *driver) finishStore(err error) error {
	w := d.storing.writes
	d.storing = nil
	if err != nil {
		return fmt.Errorf("store blocks %d..%d: %w", w[0].Block.Height(), w[len(w)-1].Block.Height(), err)
	}
	d.staged.dropOldest()
	d.announce(w)
	return nil
}

// send hands out a Ready's messages, through the Byzantine test rewriter
// when one is set.
func (d *driver) send(msgs []pbft.Outbound) {
	if d.byz != nil {
		msgs = d.byz.outgoing(msgs)
	}
	for _, out := range msgs {
		raw := pbft.Encode(out.Msg)
		d.metrics.consensusSent.WithLabelValues(out.Msg.Kind.String()).Inc()
		if out.To == pbft.Broadcast {
			d.net.BroadcastConsensus(raw)
		} else {
			d.net.SendConsensus(out.To, raw)
		}
	}
}

// commitReady makes a Ready's records durable, hands out its messages,
// then stores and announces the blocks it commits. The records are the
// promises the messages carry, so they are fsynced first; the blocks come
// after the send, off the path of the votes. Normal-path blocks are
// written without an fsync of their own (ledger.Deferred): the store has
// one write-ahead log, so the next step's records fsync covers them, and
// an idle loop syncs (run). A crash, of the process or of the machine, may
// lose the last blocks (Pebble buffers unsynced log writes in memory);
// they are certified, and the node fetches them again. Synced blocks are
// stored in the background (storeInBackground).
func (d *driver) commitReady(rd pbft.Ready) error {
	records := make([][]byte, len(rd.Persist))
	for i := range rd.Persist {
		records[i] = pbft.EncodeRecord(&rd.Persist[i])
	}
	if err := d.persist(records); err != nil {
		return err
	}
	d.walLog = append(d.walLog, rd.Persist...)
	d.send(rd.Messages)
	return d.applyBatch(rd.Committed)
}

// applyBatch stores consecutive committed blocks, validating any the
// pending chain does not hold yet, in batches of at most
// ledger.ApplyBlocksMax (normal-path batches without an fsync, synced
// ones in the background with one), and tells the mempool, the metrics
// and the observer about each once its batch is written.
func (d *driver) applyBatch(committed []pbft.CommittedBlock) error {
	for len(committed) > 0 {
		k := min(len(committed), ledger.ApplyBlocksMax)
		if err := d.applyBatchOnce(committed[:k]); err != nil {
			return err
		}
		committed = committed[k:]
	}
	return nil
}

func (d *driver) applyBatchOnce(committed []pbft.CommittedBlock) error {
	writes, err := d.blockWrites(committed)
	if err != nil {
		return err
	}
	if d.applyingSynced {
		return d.storeInBackground(writes)
	}
	if err := d.awaitStore(); err != nil {
		return err
	}
	if err := d.storeCommit(nil, writes, ledger.Deferred); err != nil {
		return fmt.Errorf("store blocks %d..%d: %w", committed[0].Block.Height(), committed[len(committed)-1].Block.Height(), err)
	}
	d.announce(writes)
	return nil
}

// blockWrites validates the committed blocks the pending chain does not
// hold yet and takes them all out of it, with their diffs, for the store.
// Validate first, commit after: the pending chain reads the store as the
// state under its head, and the store takes the blocks only after this,
// so no block may be validated on a committed parent not stored yet.
func (d *driver) blockWrites(committed []pbft.CommittedBlock) ([]ledger.BlockWrite, error) {
	for _, c := range committed {
		if _, ok := d.chain.Block(c.Block.Hash()); !ok {
			err := d.chain.Validate(c.Block)
			if errors.Is(err, ledger.ErrLocalState) {
				return nil, fmt.Errorf("validate committed block %d: %w", c.Block.Height(), err)
			}
			if err != nil {
				return nil, fmt.Errorf("committed block %d fails validation (more than f faulty?): %w", c.Block.Height(), err)
			}
		}
	}
	writes := make([]ledger.BlockWrite, len(committed))
	for i, c := range committed {
		_, diff, err := d.chain.Commit(c.Block.Hash())
		if err != nil {
			return nil, fmt.Errorf("commit block %d: %w", c.Block.Height(), err)
		}
		writes[i] = ledger.BlockWrite{Block: c.Block, Certificate: c.Certificate, Diff: diff}
	}
	return writes, nil
}

// storeInBackground stores a batch of synced blocks while the loop goes on
// to validate the next ones: the batch is staged (so the pending chain
// sees its accounts at once), the batch before it is awaited (the store
// takes batches in order), and a goroutine writes it, fsynced. The loop
// finishes the write when it reports (run), or waits for it before its
// next write to the store and before it stops (awaitStore), so only the
// validation of the next blocks overlaps the store's work. The mempool,
// the metrics and the observer hear of the blocks once they are stored. A
// crash before then may lose them; they are certified, and the node
// fetches them again after a restart.
func (d *driver) storeInBackground(writes []ledger.BlockWrite) error {
	d.staged.stage(writes)
	if err := d.awaitStore(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- d.timedCommit(nil, writes, ledger.Synced) }()
	d.storing = &storeWrite{writes: writes, done: done}
	return nil
}

// storeCommit writes consensus records and committed blocks to the store
// in one batch, timed, and keeps track of whether the store holds blocks
// not yet fsynced (unsynced). Loop goroutine only.
func (d *driver) storeCommit(records [][]byte, writes []ledger.BlockWrite, durability ledger.Durability) error {
	if len(records) == 0 && len(writes) == 0 {
		return nil
	}
	if err := d.timedCommit(records, writes, durability); err != nil {
		return err
	}
	if durability == ledger.Synced {
		d.unsynced = false
	} else if len(writes) > 0 {
		d.unsynced = true
	}
	return nil
}

// timedCommit is store.Commit, timed in synod_disk_write_seconds.
func (d *driver) timedCommit(records [][]byte, writes []ledger.BlockWrite, durability ledger.Durability) error {
	start := time.Now()
	err := d.store.Commit(records, writes, durability)
	d.metrics.observeDiskWrite(diskLogStore, time.Since(start))
	return err
}

// syncStore makes the blocks written without an fsync durable.
func (d *driver) syncStore() error {
	start := time.Now()
	err := d.store.Sync()
	d.metrics.observeDiskWrite(diskLogStore, time.Since(start))
	if err != nil {
		return err
	}
	d.unsynced = false
	return nil
}

// announce tells the mempool, the metrics and the observer about stored
// blocks.
func (d *driver) announce(writes []ledger.BlockWrite) {
	for _, w := range writes {
		d.afterApply(w.Block, w.Certificate)
	}
}

// afterApply tells the mempool, the metrics and the observer about a
// stored block.
func (d *driver) afterApply(b *ledger.Block, cert *ledger.CommitCertificate) {
	d.pool.Update(b.Txs, d.store)
	now := d.now()
	d.metrics.observeCommit(b, now)
	d.lastCommitMs.Store(now.UnixMilli())
	d.committedTxs.Add(uint64(len(b.Txs)))
	if d.observer != nil {
		d.observer(b, cert)
	}
}
