package pbft_test

import (
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/ledger"
)

// TestRestartNeverDoubleSignsAndKeepsCertificate checks durability: a replica that PREPAREd and prepared block B, crashed and restarted from its persisted records refuses to PREPARE a conflicting B' for the same (view, height), and still reports B's prepared certificate in its VIEW-CHANGE, so B commits in view 1.
func TestRestartNeverDoubleSignsAndKeepsCertificate(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	b := proposeOnlyPreparedAt(t, c, 2)
	c.crash(2)
	c.start(2, 10)
	// The Byzantine primary now offers replica 2 another block at (0, 1).
	alt, err := c.chains[0].Build(c.genesis.Hash(), 0, c.vals.At(0).Address(), c.genesis.Header.Timestamp+99, nil)
	if err != nil {
		t.Fatal(err)
	}
	pp := c.resign(0, &pbft.Message{Kind: pbft.KindPrePrepare, View: 0, Height: 1, Digest: alt.Hash(), Block: alt})
	if err := c.reps[2].Step(pp); err != nil {
		t.Fatal(err)
	}
	rd := c.reps[2].Ready()
	for _, o := range rd.Messages {
		if o.Msg.Kind == pbft.KindPrepare && o.Msg.View == 0 && o.Msg.Height == 1 {
			t.Fatalf("restarted replica signed %s after signing %s before the crash", o.Msg, b.Short())
		}
	}
	c.reps[2].Advance()
	var vc *pbft.Message
	c.outgoing[2] = func(o pbft.Outbound) []pbft.Outbound {
		if o.Msg.Kind == pbft.KindViewChange && vc == nil {
			vc = o.Msg
		}
		return []pbft.Outbound{o}
	}
	c.tickUntil(200, c.allCommitted(1, 1, 2, 3))
	if vc == nil || len(vc.ViewChange.Prepared) == 0 || vc.ViewChange.Prepared[0].Header.Hash() != b {
		t.Fatalf("VIEW-CHANGE after restart does not report the prepared certificate of %s: %+v", b.Short(), vc)
	}
	if got := c.committedAt(3, 1); got.Block.Hash() != b {
		t.Fatalf("height 1 is %s, want %s", got.Block.Hash().Short(), b.Short())
	}
}

// TestRecordsRoundTripAndCompact checks that every persisted record survives encoding, and that CompactRecords keeps what a restart needs: after compaction a restarted replica still rejoins and commits.
func TestRecordsRoundTripAndCompact(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	c.tickUntil(100, c.allCommitted(12, 0, 1, 2, 3))
	for i, rec := range c.records[1] {
		got, err := pbft.DecodeRecord(pbft.EncodeRecord(&rec))
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if string(pbft.EncodeRecord(got)) != string(pbft.EncodeRecord(&rec)) {
			t.Fatalf("record %d changed in a round trip", i)
		}
	}
	before := len(c.records[1])
	c.records[1] = pbft.CompactRecords(c.records[1])
	if len(c.records[1]) >= before {
		t.Fatalf("compaction kept %d of %d records", len(c.records[1]), before)
	}
	c.crash(1)
	c.start(1, 10)
	c.tickUntil(100, c.allCommitted(30, 0, 1, 2, 3))
}

// TestCrashMidReadyRejoins checks that a replica that persisted a Ready but crashed before sending it or applying its commits restarts from the store's older head, catches up and keeps committing the same chain.
func TestCrashMidReadyRejoins(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	c.tickUntil(100, c.allCommitted(5, 0, 1, 2, 3))
	c.reps[3].Tick(c.genesis.Header.Timestamp + c.now + 5)
	c.records[3] = append(c.records[3], c.reps[3].Ready().Persist...) // persisted, never sent
	c.crash(3)
	c.tickUntil(100, c.allCommitted(15, 0, 1, 2))
	c.start(3, 10)
	c.tickUntil(300, c.allCommitted(25, 0, 1, 2, 3))
	for h := uint64(1); h <= 25; h++ {
		if c.committedAt(3, h).Block.Hash() != c.committedAt(0, h).Block.Hash() {
			t.Fatalf("height %d differs after restart", h)
		}
	}
}

// TestRestartRefusesPreparedRecordWithAnotherBlock checks that a prepared record whose block is not the one its certificate names (a record damaged on disk) stops the restart with an error, instead of the certificate being dropped in silence: a replica that forgot a prepared certificate leaves it out of its VIEW-CHANGE, and the block it helped prepare may then be replaced.
func TestRestartRefusesPreparedRecordWithAnotherBlock(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	proposeOnlyPreparedAt(t, c, 2)
	alt, err := c.chains[0].Build(c.genesis.Hash(), 0, c.vals.At(0).Address(), c.genesis.Header.Timestamp+99, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := append([]pbft.Record(nil), c.records[2]...)
	damaged := false
	for i := range recs {
		if recs[i].Kind == pbft.RecordPrepared {
			recs[i].Block, damaged = alt, true
		}
	}
	if !damaged {
		t.Fatal("replica 2 persisted no prepared record")
	}
	_, err = pbft.NewReplica(pbft.Config{
		ChainID: c.chainID, ID: 2, Validators: c.vals, Params: c.params,
		App:    pbft.ChainApplication{Chain: ledger.NewPendingChain(c.chainID, c.params, c.heads[2], c.states[2])},
		Signer: c.signers[2], Verifier: c.verif, Head: c.heads[2], Genesis: c.genesis.Hash(),
		Records: recs, ViewChangeTicks: 10,
	})
	if err == nil {
		t.Fatal("restart from a prepared record holding another block succeeded; its certificate was dropped")
	}
}

// TestDecodeRecordRefusesNonCanonicalActive checks that a view record's active flag must be 0 or 1: any other byte is damage, and reading it as "not active" would restart a replica that installed NEW-VIEW as one still changing view.
func TestDecodeRecordRefusesNonCanonicalActive(t *testing.T) {
	b := pbft.EncodeRecord(&pbft.Record{Kind: pbft.RecordView, View: 3, Active: true})
	if _, err := pbft.DecodeRecord(b); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []byte{2, 0x81, 0xff} {
		b[len(b)-1] = flag
		if rec, err := pbft.DecodeRecord(b); err == nil {
			t.Fatalf("active flag %#x decodes (active %v)", flag, rec.Active)
		}
	}
}
