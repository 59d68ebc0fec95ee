package p2p

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// memSource is an in-memory BlockSource over a real chain.
type memSource struct {
	blocks []*ledger.Block
	certs  []*ledger.CommitCertificate // certs[0] is nil: genesis
}

func (m *memSource) Head() ledger.Header { return m.blocks[len(m.blocks)-1].Header }

func (m *memSource) EncodedBlock(h uint64) ([]byte, error) {
	if h >= uint64(len(m.blocks)) {
		return nil, fmt.Errorf("block %d: %w", h, ledger.ErrStoreNotFound)
	}
	return m.blocks[h].Encode(), nil
}

func (m *memSource) EncodedCertificate(h uint64) ([]byte, error) {
	if h == 0 || h >= uint64(len(m.certs)) {
		return nil, fmt.Errorf("certificate %d: %w", h, ledger.ErrStoreNotFound)
	}
	return m.certs[h].Encode(), nil
}

// testChainSource builds a chain of n blocks after genesis, each with a
// few transfers and a commit certificate signed by the single validator.
func testChainSource(t testing.TB, n int) (*memSource, *ledger.ValidatorSet) {
	t.Helper()
	valKey := testKey(t, 50)
	payer := testKey(t, 100)
	g := &ledger.Genesis{
		ChainID:     testChain,
		GenesisTime: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		Validators:  []ledger.Validator{{Name: "v0", PublicKey: valKey.Public()}},
		Accounts:    []ledger.GenesisAccount{{Address: payer.Public().Address(), Amount: 1_000_000}},
		Consensus:   ledger.DefaultConsensusParams(),
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	vals, err := g.ValidatorSet()
	if err != nil {
		t.Fatal(err)
	}
	genesis, diff := ledger.GenesisBlock(g)
	state := ledger.NewMemState()
	state.Apply(diff)
	src := &memSource{blocks: []*ledger.Block{genesis}, certs: []*ledger.CommitCertificate{nil}}
	nonce := uint64(0)
	for h := 1; h <= n; h++ {
		var txs []*ledger.Tx
		for range 3 {
			txs = append(txs, signedTx(t, payer, nonce, "sync"))
			nonce++
		}
		parent := src.blocks[h-1].Header
		b, d, err := ledger.BuildBlock(ledger.BlockTemplate{ChainID: testChain, Params: g.Consensus, Parent: &parent,
			Proposer: valKey.Public().Address(), Timestamp: parent.Timestamp + 1000}, state, txs)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Txs) != 3 {
			t.Fatalf("block %d has %d txs, want 3", h, len(b.Txs))
		}
		state.Apply(d)
		hash := b.Hash()
		sig := valKey.Sign(crypto.DomainConsensus, testChain, ledger.CommitVoteBytes(b.Header.Height, 0, hash))
		cert := &ledger.CommitCertificate{Height: b.Header.Height, BlockHash: hash,
			Signatures: []ledger.CommitSignature{{Validator: 0, Signature: sig}}}
		src.blocks = append(src.blocks, b)
		src.certs = append(src.certs, cert)
	}
	return src, vals
}

func TestBlockSyncFetchesCertifiedBlocks(t *testing.T) {
	// Goal: a client fetches real blocks with certificates that verify
	// against the validator set, and learns the server's head. Method: B
	// serves a 12-block chain from memory; A asks for status, for the
	// whole chain from genesis, for a range past the head, and for a
	// range that starts below and ends above it.
	src, vals := testChainSource(t, 12)
	a := startHost(t, testConfig(t, 0), Handlers{})
	b := startHost(t, testConfig(t, 1), Handlers{Blocks: src})
	connect(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()

	head, err := a.StatusOf(ctx, b.ID())
	if err != nil || head != 12 {
		t.Fatalf("status: head %d, %v; want 12", head, err)
	}
	got, err := a.FetchBlocks(ctx, b.ID(), 0, 13)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 13 {
		t.Fatalf("got %d blocks, want 13", len(got))
	}
	for i, sb := range got {
		if sb.Block.Hash() != src.blocks[i].Hash() {
			t.Fatalf("block %d differs from the served one", i)
		}
		if i == 0 {
			if sb.Certificate != nil {
				t.Errorf("genesis came with a certificate")
			}
			continue
		}
		if err := sb.Certificate.VerifyFor(testChain, vals, sb.Block); err != nil {
			t.Errorf("block %d: certificate: %v", i, err)
		}
	}
	if past, err := a.FetchBlocks(ctx, b.ID(), 13, 5); err != nil || len(past) != 0 {
		t.Errorf("past the head: %d blocks, %v; want none", len(past), err)
	}
	tail, err := a.FetchBlocks(ctx, b.ID(), 10, 100)
	if err != nil || len(tail) != 3 || tail[0].Block.Height() != 10 {
		t.Errorf("tail: %d blocks, %v; want heights 10..12", len(tail), err)
	}
	if _, err := a.FetchBlocks(ctx, b.ID(), 0, a.cfg.SyncBlocksMax+1); err == nil {
		t.Errorf("a request over SyncBlocksMax was sent")
	}
	if s := b.Stats(); s.SyncRequestsServed != 3 || s.SyncBlocksServed != 16 {
		t.Errorf("served %d requests, %d blocks; want 3, 16", s.SyncRequestsServed, s.SyncBlocksServed)
	}
}

func TestBlockSyncRefusesWithoutSource(t *testing.T) {
	// Goal: a node with no block source says so instead of hanging.
	// Method: B has no BlockSource; A's requests end in ErrSyncRefused.
	a := startHost(t, testConfig(t, 0), Handlers{})
	b := startHost(t, testConfig(t, 1), Handlers{})
	connect(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if _, err := a.FetchBlocks(ctx, b.ID(), 1, 4); !errors.Is(err, ErrSyncRefused) {
		t.Errorf("fetch: %v, want ErrSyncRefused", err)
	}
	if _, err := a.StatusOf(ctx, b.ID()); !errors.Is(err, ErrSyncRefused) {
		t.Errorf("status: %v, want ErrSyncRefused", err)
	}
}

func TestBlockSyncRejectsHostileServer(t *testing.T) {
	// Goal: the client trusts nothing a server sends: blocks out of order
	// or out of range, too many, unlinked, of another chain, with a
	// certificate for another block, oversized lengths, trailing bytes and
	// silence are all refused (malformed ones penalize the server).
	// Method: B's block sync handler is replaced by one that writes each
	// crafted response to A's request for blocks 1..3.
	src, _ := testChainSource(t, 6)
	cfgA := testConfig(t, 0)
	cfgA.SyncTimeout = time.Second
	a := startHost(t, cfgA, Handlers{})
	b := startHost(t, testConfig(t, 1), Handlers{})
	connect(t, a, b)

	item := func(h int, certFor int) []byte {
		return appendSyncItem(nil, src.blocks[h].Encode(), src.certs[certFor].Encode())
	}
	otherChain := *src.blocks[2]
	otherChain.Header.ChainID = "another-chain"
	end := []byte{syncTagEnd}
	cases := []struct {
		name      string
		response  []byte
		malformed bool
	}{
		{"out of order", concat(item(1, 1), item(3, 3), end), true},
		{"starts early", concat(appendSyncItem(nil, src.blocks[0].Encode(), nil), end), true},
		{"more than asked", concat(item(1, 1), item(2, 2), item(3, 3), item(4, 4), end), true},
		{"certificate of another block", concat(item(1, 2), end), true},
		{"another chain", concat(item(1, 1), appendSyncItem(nil, otherChain.Encode(), src.certs[2].Encode()), end), true},
		{"missing certificate", concat(appendSyncItem(nil, src.blocks[1].Encode(), nil), end), true},
		{"huge block length", concat([]byte{syncTagBlock, 0xff, 0xff, 0xff, 0xff}), true},
		{"unknown tag", []byte{9}, true},
		{"trailing bytes", concat(item(1, 1), end, []byte{0}), true},
		{"truncated", item(1, 1)[:100], false},
		{"silence", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b.h.SetStreamHandler(syncProtocol(testChain), func(s network.Stream) {
				defer s.Close()
				if _, err := io.ReadFull(s, make([]byte, syncRequestBytes)); err != nil {
					s.Reset()
					return
				}
				if tc.response == nil {
					_, _ = io.Copy(io.Discard, io.LimitReader(s, 1)) // wait for the client to give up
					return
				}
				_, _ = s.Write(tc.response)
			})
			before := a.Stats().Penalties
			_, err := a.FetchBlocks(context.Background(), b.ID(), 1, 3)
			if err == nil {
				t.Fatal("hostile response accepted")
			}
			if errors.Is(err, ErrMalformed) != tc.malformed {
				t.Errorf("error %v: malformed = %v, want %v", err, !tc.malformed, tc.malformed)
			}
			if penalized := a.Stats().Penalties > before; penalized != tc.malformed {
				t.Errorf("penalized = %v, want %v", penalized, tc.malformed)
			}
		})
	}
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestReadSyncResponseHonoursByteBudget(t *testing.T) {
	// Goal: a response larger than the client's byte budget is refused
	// before the oversized block is read. Method: two real items against
	// a budget that fits one.
	src, _ := testChainSource(t, 2)
	one := appendSyncItem(nil, src.blocks[1].Encode(), src.certs[1].Encode())
	two := appendSyncItem(nil, src.blocks[2].Encode(), src.certs[2].Encode())
	req := SyncRequest{Kind: syncKindBlocks, From: 1, Count: 2}
	lim := syncLimits{chainID: testChain, responseBytes: len(one) + 1 + 10, blockBytes: ledger.BlockBytesMax}
	if got, err := readSyncResponse(bufio.NewReader(bytes.NewReader(concat(one, []byte{syncTagEnd}))), req, lim); err != nil || len(got) != 1 {
		t.Fatalf("one block within budget: %d, %v", len(got), err)
	}
	_, err := readSyncResponse(bufio.NewReader(bytes.NewReader(concat(one, two, []byte{syncTagEnd}))), req, lim)
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("over budget: %v, want ErrMalformed", err)
	}
}

func TestReadSyncResponseTransportErrorAfterEndIsNotMalformed(t *testing.T) {
	// Goal: a stream that breaks after an honest server's end tag (the
	// client's deadline fires, a reset, before the end of stream arrives)
	// is a transport error, not a protocol breach that penalizes the
	// server; a byte after the end tag still is. Method: a complete
	// response followed by a reset, then by one more byte.
	src, _ := testChainSource(t, 1)
	one := appendSyncItem(nil, src.blocks[1].Encode(), src.certs[1].Encode())
	req := SyncRequest{Kind: syncKindBlocks, From: 1, Count: 1}
	lim := syncLimits{chainID: testChain, responseBytes: 1 << 20, blockBytes: ledger.BlockBytesMax}
	broken := io.MultiReader(bytes.NewReader(concat(one, []byte{syncTagEnd})), iotest.ErrReader(network.ErrReset))
	if _, err := readSyncResponse(bufio.NewReader(broken), req, lim); err == nil || errors.Is(err, ErrMalformed) {
		t.Errorf("reset after the end tag: %v, want a transport error", err)
	}
	extra := bytes.NewReader(concat(one, []byte{syncTagEnd, 0}))
	if _, err := readSyncResponse(bufio.NewReader(extra), req, lim); !errors.Is(err, ErrMalformed) {
		t.Errorf("byte after the end tag: %v, want ErrMalformed", err)
	}
}

func TestSyncRequestCodec(t *testing.T) {
	// Goal: requests round-trip and nonsense requests are refused.
	// Method: encode/decode valid ones, then corrupt each field.
	for _, r := range []SyncRequest{{Kind: syncKindStatus}, {Kind: syncKindBlocks, From: 7, Count: 128}} {
		got, err := DecodeSyncRequest(r.Encode(), 128)
		if err != nil || got != r {
			t.Errorf("round trip %+v: %+v, %v", r, got, err)
		}
	}
	for _, bad := range []SyncRequest{{Kind: syncKindStatus, From: 1}, {Kind: syncKindBlocks, Count: 0},
		{Kind: syncKindBlocks, Count: 129}, {Kind: 3, Count: 1}} {
		if _, err := DecodeSyncRequest(bad.Encode(), 128); !errors.Is(err, ErrMalformed) {
			t.Errorf("%+v: %v, want ErrMalformed", bad, err)
		}
	}
	if _, err := DecodeSyncRequest(SyncRequest{Kind: syncKindBlocks, Count: 1}.Encode()[:5], 128); err == nil {
		t.Errorf("short request accepted")
	}
}

func TestBlockSyncServesValidatorsPastIdleStrangers(t *testing.T) {
	// Goal: peers outside the validator set, whose ids cost nothing, cannot
	// hold the server's block sync streams and keep a validator from
	// catching up. Method: B serves a chain with room for 4 inbound sync
	// streams in all (SyncServeConcurrencyMax 1); a stranger C opens 4
	// and sends one byte of a request on each, then stops; validator A
	// must still fetch blocks from B.
	src, _ := testChainSource(t, 4)
	a := startHost(t, testConfig(t, 0), Handlers{})
	cfgB := testConfig(t, 1)
	cfgB.SyncServeConcurrencyMax = 1
	b := startHost(t, cfgB, Handlers{Blocks: src})
	c := startHost(t, testConfig(t, 2), Handlers{})
	b.SetValidators([]peer.ID{a.ID()})
	connect(t, a, b)
	connect(t, c, b)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	for range 4 {
		openSyncStream(t, ctx, c, b.ID(), []byte{syncVersion})
	}
	time.Sleep(200 * time.Millisecond) // for B to take the streams
	got, err := a.FetchBlocks(ctx, b.ID(), 1, 4)
	if err != nil || len(got) != 4 {
		t.Fatalf("validator fetched %d blocks: %v", len(got), err)
	}
}

// stallSource serves src but holds every read of block stallAt until
// release is closed, counting the reads it holds.
type stallSource struct {
	*memSource
	stallAt uint64
	release chan struct{}
	held    atomic.Int32
}

func (s *stallSource) EncodedBlock(h uint64) ([]byte, error) {
	if h == s.stallAt {
		s.held.Add(1)
		<-s.release
	}
	return s.memSource.EncodedBlock(h)
}

func TestBlockSyncServesValidatorsPastHoggingValidators(t *testing.T) {
	// Goal: a Byzantine validator cannot take more than its share of the
	// server's block sync slots: with the default 8 slots and 4 sync
	// streams allowed per peer, two of them (f = 2 of 7) held every slot
	// and the server refused every honest validator's catch-up for as
	// long as they kept asking. Method: B's source holds every read of
	// block 4; validators C and D each send 4 requests for it at once;
	// once each request is held or refused, validator A must still fetch
	// blocks 1..3 from B.
	chain, _ := testChainSource(t, 4)
	src := &stallSource{memSource: chain, stallAt: 4, release: make(chan struct{})}
	a := startHost(t, testConfig(t, 0), Handlers{})
	b := startHost(t, testConfig(t, 1), Handlers{Blocks: src})
	t.Cleanup(func() { close(src.release) }) // before B closes
	c := startHost(t, testConfig(t, 2), Handlers{})
	d := startHost(t, testConfig(t, 3), Handlers{})
	b.SetValidators([]peer.ID{a.ID(), c.ID(), d.ID()})
	for _, p := range []*Host{a, c, d} {
		connect(t, p, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	var refused atomic.Int32
	req := SyncRequest{Kind: syncKindBlocks, From: 4, Count: 1}.Encode()
	for _, hog := range []*Host{c, d} {
		for range syncStreamsPerPeerMax {
			countRefusal(openSyncStream(t, ctx, hog, b.ID(), req), &refused)
		}
	}
	waitFor(t, testWait, "every hogging request held or refused", func() bool {
		return int(src.held.Load()+refused.Load()) == 2*syncStreamsPerPeerMax
	})
	if held := src.held.Load(); held != 2*syncServePerPeerMax {
		t.Fatalf("two hogs hold %d slots, want their share, %d each", held, syncServePerPeerMax)
	}
	got, err := a.FetchBlocks(ctx, b.ID(), 1, 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("validator fetched %d blocks: %v (hogs hold %d slots)", len(got), err, src.held.Load())
	}
}

func TestBlockSyncDropsAStreamWithoutARequest(t *testing.T) {
	// Goal: a peer that opens a sync stream and sends part of a request
	// holds it only SyncRequestReadTimeout, not all of SyncTimeout (each
	// peer may open only a few). Method: SyncTimeout is ten minutes, the
	// request timeout 200 ms; a validator sends one byte of its request
	// and must see the stream reset, well before its own 30-s deadline.
	chain, _ := testChainSource(t, 4)
	cfg := testConfig(t, 1)
	cfg.SyncTimeout, cfg.SyncRequestReadTimeout = 10*time.Minute, 200*time.Millisecond
	a := startHost(t, testConfig(t, 0), Handlers{})
	b := startHost(t, cfg, Handlers{Blocks: chain})
	b.SetValidators([]peer.ID{a.ID()})
	connect(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	s, err := a.h.NewStream(ctx, b.ID(), syncProtocol(testChain))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	req := SyncRequest{Kind: syncKindBlocks, From: 1, Count: 1}.Encode()
	if _, err := s.Write(req[:1]); err != nil {
		t.Fatal(err)
	}
	if err := s.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = s.Read(make([]byte, 1))
	var timeout interface{ Timeout() bool }
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &timeout) && timeout.Timeout()) {
		t.Fatalf("half a request: the server kept the stream (read: %v)", err)
	}
}

func TestBlockSyncServesValidatorsPastFHoggingValidators(t *testing.T) {
	// Goal: however large the validator set, its f Byzantine validators
	// cannot together hold every block sync slot nor every sync stream:
	// with 8 slots (and 4 × 8 inbound sync streams) in all, 4 validators
	// held every slot and 8 every stream, and n = 25 tolerates f = 8.
	// Method: B is told n = 25; its source holds every read of block 4;
	// each of 8 validators asks for it on its share of slots and keeps its
	// other sync streams waiting on half a request; once B holds them all,
	// validator A must still fetch blocks 1..3 from B.
	const n, f = 25, 8
	chain, _ := testChainSource(t, 4)
	src := &stallSource{memSource: chain, stallAt: 4, release: make(chan struct{})}
	cfgB := testConfig(t, 1)
	cfgB.ValidatorCount = n
	cfgB.SyncTimeout, cfgB.SyncRequestReadTimeout = time.Minute, time.Minute // no race with the test
	b := startHost(t, cfgB, Handlers{Blocks: src})
	t.Cleanup(func() { close(src.release) }) // before B closes
	a := startHost(t, testConfig(t, 0), Handlers{})
	ids := []peer.ID{a.ID()}
	var hogs []*Host
	for i := range f {
		hog := startHost(t, testConfig(t, 2+i), Handlers{})
		hogs = append(hogs, hog)
		ids = append(ids, hog.ID())
	}
	b.SetValidators(ids)
	for _, p := range append([]*Host{a}, hogs...) {
		connect(t, p, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	var refused atomic.Int32
	req := SyncRequest{Kind: syncKindBlocks, From: src.stallAt, Count: 1}.Encode()
	for _, hog := range hogs {
		for i := range syncStreamsPerPeerMax {
			if i >= syncServePerPeerMax {
				openSyncStream(t, ctx, hog, b.ID(), req[:1]) // beyond its share of slots: half a request
				continue
			}
			countRefusal(openSyncStream(t, ctx, hog, b.ID(), req), &refused)
		}
	}
	const halves = f * (syncStreamsPerPeerMax - syncServePerPeerMax)
	waitFor(t, testWait, "every hog's requests held or refused, its other streams held", func() bool {
		held := int(src.held.Load())
		return held+int(refused.Load()) == f*syncServePerPeerMax && syncStreamsIn(b) == held+halves
	})
	got, err := a.FetchBlocks(ctx, b.ID(), 1, 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("validator fetched %d blocks: %v (hogs hold %d slots and %d streams)", len(got), err, src.held.Load(), syncStreamsIn(b))
	}
	if held := src.held.Load(); held != f*syncServePerPeerMax {
		t.Fatalf("%d hogs hold %d slots, want their share, %d each", f, held, syncServePerPeerMax)
	}
}

// syncStreamsIn is the number of inbound block sync streams h holds.
func syncStreamsIn(h *Host) int {
	streams := 0
	_ = h.h.Network().ResourceManager().ViewProtocol(syncProtocol(testChain), func(s network.ProtocolScope) error {
		streams = s.Stat().NumStreamsInbound
		return nil
	})
	return streams
}

func TestSyncServeSlotsOutlastFShares(t *testing.T) {
	// Goal: for every validator set size, the serving slots exceed what
	// its f Byzantine validators can hold by syncServeReservePeers honest
	// shares, never fall below SyncServeConcurrencyMax, and grow no faster
	// than n; method: every n from 0 (unknown) to ledger.ValidatorsMax.
	cfg := DefaultConfig()
	for n := 0; n <= ledger.ValidatorsMax; n++ {
		cfg.ValidatorCount = n
		slots, f := cfg.syncServeSlots(), max(n-1, 0)/3
		if slots < cfg.SyncServeConcurrencyMax || slots-f*syncServePerPeerMax < syncServeReservePeers*syncServePerPeerMax {
			t.Fatalf("n=%d (f=%d): %d slots", n, f, slots)
		}
		if slots > max(cfg.SyncServeConcurrencyMax, n+2*syncServeReservePeers) {
			t.Fatalf("n=%d: %d slots, more than n+%d", n, slots, 2*syncServeReservePeers)
		}
	}
	cfg.ValidatorCount = 25
	if slots := cfg.syncServeSlots(); slots != 20 {
		t.Fatalf("n=25: %d slots, want 2 × (8 + 2) = 20", slots)
	}
}

// openSyncStream opens a sync stream from `from` to p and writes msg on it
// (a request, or part of one); the stream is reset when the test ends.
func openSyncStream(t *testing.T, ctx context.Context, from *Host, p peer.ID, msg []byte) network.Stream {
	t.Helper()
	s, err := from.h.NewStream(ctx, p, syncProtocol(testChain))
	if err != nil {
		t.Fatalf("open sync stream: %v", err)
	}
	t.Cleanup(func() { s.Reset() })
	if _, err := s.Write(msg); err != nil {
		t.Fatalf("write on sync stream: %v", err)
	}
	return s
}

// countRefusal counts in refused whether the server's answer on s begins
// with a refusal, once it comes.
func countRefusal(s network.Stream, refused *atomic.Int32) {
	go func() {
		var tag [1]byte
		if _, err := io.ReadFull(s, tag[:]); err == nil && tag[0] == syncTagRefused {
			refused.Add(1)
		}
	}()
}
