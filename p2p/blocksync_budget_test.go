package p2p

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// bigChainSource is a chain of n blocks after genesis, each txs copies of
// one tx of the largest memo, linked and certified by one validator: big
// enough for a response to stall on flow control when its peer does not
// read. The blocks are not executable (the sync client does not check),
// only well-formed.
func bigChainSource(t testing.TB, n, txs int) *memSource {
	t.Helper()
	valKey := testKey(t, 50)
	tx := signedTx(t, testKey(t, 100), 0, strings.Repeat("m", ledger.TxMemoBytesMax))
	genesis := &ledger.Block{Header: ledger.Header{ChainID: testChain}}
	src := &memSource{blocks: []*ledger.Block{genesis}, certs: []*ledger.CommitCertificate{nil}}
	for h := 1; h <= n; h++ {
		b := &ledger.Block{
			Header: ledger.Header{ChainID: testChain, Height: uint64(h), ParentHash: src.blocks[h-1].Hash()},
			Txs:    slices.Repeat([]*ledger.Tx{tx}, txs),
		}
		hash := b.Hash()
		sig := valKey.Sign(crypto.DomainConsensus, testChain, ledger.CommitVoteBytes(b.Header.Height, 0, hash))
		src.blocks = append(src.blocks, b)
		src.certs = append(src.certs, &ledger.CommitCertificate{Height: b.Header.Height, BlockHash: hash,
			Signatures: []ledger.CommitSignature{{Validator: 0, Signature: sig}}})
	}
	return src
}

// holdSlowRequests opens syncServePerPeerMax slow requests for req from
// each of readers to b, and waits until each one holds a block of item
// bytes or waits for room in b's serving byte budget.
func holdSlowRequests(t *testing.T, ctx context.Context, b *Host, readers []*Host, req SyncRequest, item int64) []network.Stream {
	t.Helper()
	var streams []network.Stream
	for _, c := range readers {
		for range syncServePerPeerMax {
			streams = append(streams, openSlowRequest(t, ctx, c, b.ID(), req))
		}
	}
	waitFor(t, testWait, "every slow request holding a block or waiting for room", func() bool {
		s := b.sync.budget.state()
		return s.held/item+int64(s.waiting) == int64(len(streams))
	})
	return streams
}

// readAllStreams reads every stream at once, as slow readers that start
// reading would, and checks each got all the blocks req asked for.
func readAllStreams(t *testing.T, streams []network.Stream, req SyncRequest, src *memSource) {
	t.Helper()
	errs := make(chan error, len(streams))
	for _, s := range streams {
		go func() { errs <- readAllBlocks(s, req, src) }()
	}
	for range streams {
		if err := <-errs; err != nil {
			t.Errorf("slow reader: %v", err)
		}
	}
}

// itemBytes is what serving block h holds: the block and its certificate.
func (m *memSource) itemBytes(h int) int64 {
	return int64(len(m.blocks[h].Encode()) + len(m.certs[h].Encode()))
}

// openSlowRequest sends req to p on a new sync stream and reads nothing.
func openSlowRequest(t *testing.T, ctx context.Context, from *Host, p peer.ID, req SyncRequest) network.Stream {
	t.Helper()
	s := openSyncStream(t, ctx, from, p, req.Encode())
	if err := s.SetReadDeadline(time.Now().Add(testWait)); err != nil {
		t.Fatal(err)
	}
	return s
}

// readAllBlocks reads a whole response from s and checks it is src's
// blocks req asked for.
func readAllBlocks(s network.Stream, req SyncRequest, src *memSource) error {
	lim := syncLimits{chainID: testChain, responseBytes: DefaultConfig().SyncResponseBytesMax, blockBytes: ledger.BlockBytesMax}
	got, err := readSyncResponse(bufio.NewReader(s), req, lim)
	if err != nil {
		return err
	}
	if len(got) != int(req.Count) {
		return fmt.Errorf("got %d blocks, want %d", len(got), req.Count)
	}
	for i, sb := range got {
		if sb.Block.Hash() != src.blocks[req.From+uint64(i)].Hash() {
			return fmt.Errorf("block %d differs from the served one", req.From+uint64(i))
		}
	}
	return nil
}

func TestBlockSyncServeBytesStayWithinBudget(t *testing.T) {
	// Goal: slow readers holding many serving slots hold at most
	// SyncServeBytesMax of blocks between them, not a block per slot, and
	// every one still gets all its blocks. Method: B serves 3 blocks of
	// ~1 MiB with a budget of two and a half; 3 validators each send their
	// share of requests for all of them and read nothing, so a response
	// holding a block stalls on flow control; once every request holds a
	// block or waits for room, all read. Without the budget all 6 requests
	// held a block at once.
	const clients, blocks = 3, 3
	const requests = clients * syncServePerPeerMax
	src := bigChainSource(t, blocks, 2500)
	item := src.itemBytes(1)
	cfgB := testConfig(t, 1)
	cfgB.SyncTimeout = time.Minute // the test never races the server's deadline
	cfgB.SyncServeBytesMax = int(2*item + item/2)
	b := startHost(t, cfgB, Handlers{Blocks: src})
	var readers []*Host
	var ids []peer.ID
	for i := range clients {
		c := startHost(t, testConfig(t, 2+i), Handlers{})
		connect(t, c, b)
		readers, ids = append(readers, c), append(ids, c.ID())
	}
	b.SetValidators(ids)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	req := SyncRequest{Kind: syncKindBlocks, From: 1, Count: blocks}
	streams := holdSlowRequests(t, ctx, b, readers, req, item)
	budget := b.sync.budget
	switch s := budget.state(); {
	case s.peak > budget.max:
		t.Fatalf("%d slow requests held %d bytes (%d blocks) at once, over the budget of %d",
			requests, s.peak, s.peak/item, budget.max)
	case s.held != 2*item:
		t.Fatalf("slow requests hold %d bytes, want the two blocks the budget has room for", s.held)
	}
	readAllStreams(t, streams, req, src)
	if s := budget.state(); s.peak > budget.max || s.held != 0 || s.waiting != 0 {
		t.Fatalf("after every response: %+v, want peak within %d, nothing held or waiting", s, budget.max)
	}
}

func TestBlockSyncServesBlocksLargerThanTheBudget(t *testing.T) {
	// Goal: a block larger than SyncServeBytesMax is still served, alone,
	// so no request waits for room that never comes. Method: B's budget
	// is one byte short of its smallest block; a lone client fetches 4.
	src, _ := testChainSource(t, 4)
	smallest, largest := src.itemBytes(1), src.itemBytes(1)
	for h := 2; h <= 4; h++ {
		smallest, largest = min(smallest, src.itemBytes(h)), max(largest, src.itemBytes(h))
	}
	cfgB := testConfig(t, 1)
	cfgB.SyncServeBytesMax = int(smallest - 1)
	a := startHost(t, testConfig(t, 0), Handlers{})
	b := startHost(t, cfgB, Handlers{Blocks: src})
	connect(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	got, err := a.FetchBlocks(ctx, b.ID(), 1, 4)
	if err != nil || len(got) != 4 {
		t.Fatalf("fetched %d blocks larger than the budget: %v", len(got), err)
	}
	if s := b.sync.budget.state(); s.peak < smallest || s.peak > largest || s.held != 0 {
		t.Fatalf("budget %+v: want each block held alone (peak in %d..%d), nothing held after", s, smallest, largest)
	}
}

func TestBlockSyncSlowReaderLosesItsBytesAtTheWriteDeadline(t *testing.T) {
	// Goal: a peer that never reads holds its reserved bytes no longer
	// than the server's write deadline (SyncTimeout). Method: B's budget
	// is one ~1 MiB block and its SyncTimeout 500 ms; validator C asks for
	// the block and reads nothing; the bytes B holds must go back to 0 and
	// C's stream must fail.
	src := bigChainSource(t, 1, 2500)
	cfgB := testConfig(t, 1)
	cfgB.SyncTimeout = 500 * time.Millisecond
	cfgB.SyncServeBytesMax = int(src.itemBytes(1))
	b := startHost(t, cfgB, Handlers{Blocks: src})
	c := startHost(t, testConfig(t, 2), Handlers{})
	connect(t, c, b)
	b.SetValidators([]peer.ID{c.ID()})
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	req := SyncRequest{Kind: syncKindBlocks, From: 1, Count: 1}
	s := openSlowRequest(t, ctx, c, b.ID(), req)
	budget := b.sync.budget
	waitFor(t, testWait, "the slow reader's block held", func() bool { return budget.state().held > 0 })
	waitFor(t, testWait, "the slow reader's bytes given back", func() bool { return budget.state().held == 0 })
	if err := readAllBlocks(s, req, src); err == nil {
		t.Fatal("the slow reader got its block after the server's deadline")
	}
}

func TestBlockSyncHoldsSlowReadersToTheirShare(t *testing.T) {
	// Goal: the f Byzantine validators, reading slowly on every slot they
	// may take, hold at most their share of SyncServeBytesMax each, so an
	// honest validator's catch-up is still served at once instead of after
	// their SyncTimeout. Without shares, f = 2 slow readers asking for
	// large blocks held 2 each, the whole budget here. Method: B is told
	// n = 7 (f = 2, shares of a quarter); its budget is four and a half
	// ~1-MiB blocks; validators C and D each send their two requests for
	// blocks 1..3 and read nothing; once each request holds a block or
	// waits, validator A fetches block 1, then C and D read everything.
	const n, f = 7, 2
	src := bigChainSource(t, 3, 2500)
	item := src.itemBytes(1)
	cfgB := testConfig(t, 1)
	cfgB.ValidatorCount = n
	cfgB.SyncTimeout = time.Minute // so the hogs' blocks outlast A's own SyncTimeout
	cfgB.SyncServeBytesMax = int(4*item + item/2)
	b := startHost(t, cfgB, Handlers{Blocks: src})
	share := b.cfg.syncServePeerBytes()
	if share < item || share >= 2*item {
		t.Fatalf("a share of %d bytes for blocks of %d: the test wants room for one block, not two", share, item)
	}
	a := startHost(t, testConfig(t, 0), Handlers{})
	ids := []peer.ID{a.ID()}
	var hogs []*Host
	for i := range f {
		hog := startHost(t, testConfig(t, 2+i), Handlers{})
		hogs, ids = append(hogs, hog), append(ids, hog.ID())
	}
	b.SetValidators(ids)
	for _, p := range append([]*Host{a}, hogs...) {
		connect(t, p, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	req := SyncRequest{Kind: syncKindBlocks, From: 1, Count: 3}
	streams := holdSlowRequests(t, ctx, b, hogs, req, item)
	budget := b.sync.budget
	got, err := a.FetchBlocks(ctx, b.ID(), 1, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("validator fetched %d blocks: %v (slow readers hold %d of %d bytes)", len(got), err, budget.state().held, budget.max)
	}
	for i, hog := range hogs {
		if held := budget.heldBy(hog.ID()); held > share {
			t.Fatalf("slow reader %d holds %d bytes, over its share of %d", i, held, share)
		}
	}
	readAllStreams(t, streams, req, src)
	if s := budget.state(); s.peerPeak > share || s.held != 0 || s.waiting != 0 || s.peers != 0 {
		t.Fatalf("after every response: %+v, want no peer ever over its share of %d, nothing held or waiting", s, share)
	}
}

func TestSyncServePeerBytesLeaveHonestPeersRoom(t *testing.T) {
	// Goal: for every validator set size, the f Byzantine validators'
	// shares of the serving byte budget together leave at least
	// syncServeReservePeers full shares to the others, and a share is
	// never empty at the default budget. Method: every n from 0 (unknown)
	// to ledger.ValidatorsMax.
	cfg := DefaultConfig()
	budget := int64(cfg.SyncServeBytesMax)
	for n := 0; n <= ledger.ValidatorsMax; n++ {
		cfg.ValidatorCount = n
		share, f := cfg.syncServePeerBytes(), int64(max(n-1, 0)/3)
		if share < 1 || budget-f*share < syncServeReservePeers*share {
			t.Fatalf("n=%d (f=%d): shares of %d in a budget of %d", n, f, share, budget)
		}
	}
	cfg.ValidatorCount = 7
	if share := cfg.syncServePeerBytes(); share != 16<<20 {
		t.Fatalf("n=7: a share of %d, want 64 MiB / (2 + 2) = 16 MiB", share)
	}
}
