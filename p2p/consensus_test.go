package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// consSink records consensus messages per sender.
type consSink struct {
	mu   sync.Mutex
	msgs map[peer.ID][]uint64
	gate chan struct{} // when non-nil, each delivery waits for it to close
}

func newConsSink() *consSink { return &consSink{msgs: make(map[peer.ID][]uint64)} }

func (s *consSink) onConsensus(from peer.ID, msg []byte) {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs[from] = append(s.msgs[from], binary.BigEndian.Uint64(msg))
}

func (s *consSink) from(p peer.ID) []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.msgs[p]...)
}

// seqMsg is a consensus message carrying a sequence number and padding.
func seqMsg(seq uint64, size int) []byte {
	m := make([]byte, max(size, 8))
	binary.BigEndian.PutUint64(m, seq)
	return m
}

func validatorHosts(t *testing.T, count int, mutate func(*Config), handlers func(i int) Handlers) []*Host {
	t.Helper()
	hosts := make([]*Host, count)
	for i := range hosts {
		cfg := testConfig(t, i)
		if mutate != nil {
			mutate(&cfg)
		}
		hosts[i] = startHost(t, cfg, handlers(i))
	}
	ids := make([]peer.ID, count)
	for i, h := range hosts {
		ids[i] = h.ID()
	}
	for i, h := range hosts {
		h.SetValidators(ids)
		for j := i + 1; j < count; j++ {
			connect(t, h, hosts[j])
		}
	}
	return hosts
}

func TestConsensusSendAndBroadcastKeepOrderPerPeer(t *testing.T) {
	// Goal: direct sends and broadcasts arrive complete and in order per
	// sender. Method: three validators; A sends 500 numbered messages to B
	// and broadcasts 200 more; C broadcasts 200 of its own at the same
	// time; every receiver checks each sender's sequence.
	sinks := []*consSink{newConsSink(), newConsSink(), newConsSink()}
	hosts := validatorHosts(t, 3, nil, func(i int) Handlers { return Handlers{OnConsensus: sinks[i].onConsensus} })
	a, b, c := hosts[0], hosts[1], hosts[2]

	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 500 {
			if err := a.SendConsensus(b.ID(), seqMsg(uint64(i), 100)); err != nil {
				t.Error(err)
				return
			}
		}
		for i := range 200 {
			if err := a.BroadcastConsensus(seqMsg(uint64(500+i), 1000)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		for i := range 200 {
			if err := c.BroadcastConsensus(seqMsg(uint64(i), 300)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()

	checkSeq := func(name string, got []uint64, first, n int) {
		t.Helper()
		if len(got) != n {
			t.Fatalf("%s: got %d messages, want %d", name, len(got), n)
		}
		for i, v := range got {
			if v != uint64(first+i) {
				t.Fatalf("%s: message %d has sequence %d, want %d", name, i, v, first+i)
			}
		}
	}
	waitFor(t, testWait, "all consensus messages", func() bool {
		return len(sinks[1].from(a.ID())) == 700 && len(sinks[2].from(a.ID())) == 200 &&
			len(sinks[0].from(c.ID())) == 200 && len(sinks[1].from(c.ID())) == 200
	})
	checkSeq("A→B", sinks[1].from(a.ID()), 0, 700)
	checkSeq("A→C", sinks[2].from(a.ID()), 500, 200)
	checkSeq("C→A", sinks[0].from(c.ID()), 0, 200)
	checkSeq("C→B", sinks[1].from(c.ID()), 0, 200)
	if s := a.Stats(); s.ConsensusOutboundDropped != 0 {
		t.Errorf("A dropped %d messages with a healthy network", s.ConsensusOutboundDropped)
	}
}

func TestConsensusOutboundOverflowDropsOldest(t *testing.T) {
	// Goal: sending to an unreachable validator never blocks; the queue
	// keeps the newest ConsensusQueueLen messages, counts the dropped
	// ones, and delivers the kept ones in order once the peer is back.
	// Method: partition A from B, send 1,500 messages, check the drop
	// count, heal, and check B gets exactly the last 1,024.
	sinkB := newConsSink()
	hosts := validatorHosts(t, 2, nil, func(i int) Handlers {
		if i == 1 {
			return Handlers{OnConsensus: sinkB.onConsensus}
		}
		return Handlers{}
	})
	a, b := hosts[0], hosts[1]
	a.SetPartition([]peer.ID{})
	waitFor(t, testWait, "A and B disconnected", func() bool { return !a.Connected(b.ID()) })

	const sent = 1500
	queueLen := a.cfg.ConsensusQueueLen
	for i := range sent {
		if err := a.SendConsensus(b.ID(), seqMsg(uint64(i), 64)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, testWait, "drops counted", func() bool {
		return a.Stats().ConsensusOutboundDropped == uint64(sent-queueLen)
	})
	a.Heal()
	connect(t, a, b)
	waitFor(t, testWait, "kept messages delivered", func() bool { return len(sinkB.from(a.ID())) >= queueLen })
	got := sinkB.from(a.ID())
	if len(got) != queueLen {
		t.Fatalf("B got %d messages, want %d", len(got), queueLen)
	}
	for i, v := range got {
		if want := uint64(sent - queueLen + i); v != want {
			t.Fatalf("message %d has sequence %d, want %d (the newest kept, in order)", i, v, want)
		}
	}
}

func TestConsensusInboundOverflowDropsAndCounts(t *testing.T) {
	// Goal: a receiver whose OnConsensus is stuck drops (and counts) the
	// oldest inbound messages instead of growing without bound or
	// stalling the sender. Method: B's handler blocks until released; A
	// sends 2,000 messages into a 64-message inbox; after release B has
	// an increasing subsequence ending with the last message.
	sinkB := newConsSink()
	sinkB.gate = make(chan struct{})
	hosts := validatorHosts(t, 2, func(c *Config) { c.ConsensusQueueLen = 64 }, func(i int) Handlers {
		if i == 1 {
			return Handlers{OnConsensus: sinkB.onConsensus}
		}
		return Handlers{}
	})
	a, b := hosts[0], hosts[1]
	var release sync.Once
	releaseGate := func() { release.Do(func() { close(sinkB.gate) }) }
	t.Cleanup(releaseGate) // runs before the hosts close
	const sent = 2000
	// Send in chunks smaller than A's own 64-message queue and let each
	// drain, so the overflow happens at B's inbox, not in A's queue.
	for i := range sent {
		if err := a.SendConsensus(b.ID(), seqMsg(uint64(i), 64)); err != nil {
			t.Fatal(err)
		}
		if i%32 == 31 {
			waitFor(t, testWait, "A's queue to drain", func() bool {
				s := a.Stats()
				return s.ConsensusSent+s.ConsensusOutboundDropped == uint64(i+1)
			})
		}
	}
	waitFor(t, testWait, "A to write or drop everything", func() bool {
		s := a.Stats()
		return s.ConsensusSent+s.ConsensusOutboundDropped == sent
	})
	written := a.Stats().ConsensusSent
	if written != sent {
		t.Errorf("A wrote %d of %d messages: its own queue overflowed", written, sent)
	}
	waitFor(t, testWait, "B to drop", func() bool { return b.Stats().ConsensusInboundDropped > 0 })
	waitFor(t, testWait, "B's reader to finish", func() bool {
		s := b.Stats()
		return s.ConsensusInboundDropped+uint64(b.cons.inboxLen())+1 >= written
	})
	releaseGate()
	waitFor(t, testWait, "last message", func() bool {
		got := sinkB.from(a.ID())
		return len(got) > 0 && got[len(got)-1] == sent-1
	})
	got := sinkB.from(a.ID())
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("out of order: %d after %d", got[i], got[i-1])
		}
	}
	if dropped := b.Stats().ConsensusInboundDropped; dropped+uint64(len(got)) != written {
		t.Errorf("delivered %d + dropped %d != written %d", len(got), dropped, written)
	}
}

func TestInboxServesPeersInTurn(t *testing.T) {
	// Goal: one peer's flood cannot starve another. Method: peer X queues
	// 1,000 messages before peer Y queues one; Y's message must come out
	// second, and the queue of X stays within its bound.
	box := newInbox(100, 1<<20, 1<<30)
	x, y := peer.ID("x"), peer.ID("y")
	dropped := 0
	for i := range 1000 {
		dropped += box.push(x, seqMsg(uint64(i), 8))
	}
	box.push(y, seqMsg(7, 8))
	if dropped != 900 {
		t.Errorf("dropped %d of X's messages, want 900", dropped)
	}
	order := []peer.ID{}
	for range 3 {
		p, _, ok := box.next()
		if !ok {
			t.Fatal("inbox empty too early")
		}
		order = append(order, p)
	}
	if order[0] != x || order[1] != y || order[2] != x {
		t.Errorf("order %v, want x y x", order)
	}
}

func TestInboxTotalBoundSqueezesHeaviestPeer(t *testing.T) {
	// Goal: the inbox's total byte bound drops from the peer with the most
	// queued, not from a light peer. Method: heavy X fills most of a 1,000
	// byte total with 100-byte messages; light Y's one message survives
	// every further push by X.
	box := newInbox(100, 1<<20, 1000)
	x, y := peer.ID("x"), peer.ID("y")
	box.push(y, seqMsg(1, 100))
	dropped := 0
	for i := range 20 {
		dropped += box.push(x, seqMsg(uint64(i), 100))
	}
	if dropped != 11 || box.totalBytes != 1000 {
		t.Errorf("dropped %d, total %d bytes; want 11 and 1000", dropped, box.totalBytes)
	}
	seen := map[peer.ID]int{}
	for {
		p, _, ok := box.next()
		if !ok {
			break
		}
		seen[p]++
	}
	if seen[y] != 1 || seen[x] != 9 || box.totalBytes != 0 {
		t.Errorf("delivered %v, total left %d; want y:1 x:9 and 0", seen, box.totalBytes)
	}
}

func TestMsgQueueBoundsBytesAndRequeue(t *testing.T) {
	// Goal: the queue bounds bytes as well as count, and a requeued batch
	// goes back in front of newer messages. Method: direct calls.
	q := newMsgQueue(10, 100)
	for i := range 5 {
		q.push(seqMsg(uint64(i), 30))
	}
	if q.len() != 3 || q.bytes != 90 {
		t.Fatalf("len %d bytes %d, want 3 and 90", q.len(), q.bytes)
	}
	batch := q.takeAll()
	q.push(seqMsg(9, 30))
	if dropped := q.pushFront(batch); dropped != 1 {
		t.Errorf("pushFront dropped %d, want 1", dropped)
	}
	var got []uint64
	for {
		m, ok := q.popFront()
		if !ok {
			break
		}
		got = append(got, binary.BigEndian.Uint64(m))
	}
	if fmt.Sprint(got) != "[3 4 9]" {
		t.Errorf("order %v, want [3 4 9]", got)
	}
}

func TestConsensusRefusesNonValidatorsAndOversize(t *testing.T) {
	// Goal: consensus traffic flows only between validators and within the
	// size limit. Method: B does not list A as a validator, so A's stream
	// is reset and nothing is delivered; a message over the limit and a
	// send to a non-validator are refused with their sentinels.
	sinkB := newConsSink()
	a := startHost(t, testConfig(t, 0), Handlers{})
	b := startHost(t, testConfig(t, 1), Handlers{OnConsensus: sinkB.onConsensus})
	connect(t, a, b)
	a.SetValidators([]peer.ID{a.ID(), b.ID()})
	b.SetValidators([]peer.ID{b.ID()})
	if err := a.SendConsensus(b.ID(), seqMsg(1, 8)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, testWait, "B to refuse A's stream", func() bool { return b.Stats().ConsensusStreamsRefused > 0 })
	time.Sleep(100 * time.Millisecond) // let a wrongly accepted message arrive
	if got := sinkB.from(a.ID()); len(got) != 0 {
		t.Errorf("B delivered %d messages from a non-validator", len(got))
	}
	if err := b.SendConsensus(a.ID(), seqMsg(1, 8)); !errors.Is(err, ErrNotValidator) {
		t.Errorf("send to non-validator: %v, want ErrNotValidator", err)
	}
	if err := a.SendConsensus(b.ID(), make([]byte, a.cfg.ConsensusMessageBytesMax+1)); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("oversized send: %v, want ErrMessageTooLarge", err)
	}
}

func TestConsensusCarriesLargeMessages(t *testing.T) {
	// Goal: a message near a full block's size crosses intact. Method: A
	// sends 4 MiB with a sequence prefix; B compares the length.
	var mu sync.Mutex
	var sizes []int
	hosts := validatorHosts(t, 2, nil, func(i int) Handlers {
		return Handlers{OnConsensus: func(_ peer.ID, msg []byte) {
			mu.Lock()
			sizes = append(sizes, len(msg))
			mu.Unlock()
		}}
	})
	if err := hosts[0].SendConsensus(hosts[1].ID(), seqMsg(1, 4<<20)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, testWait, "large message", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sizes) == 1
	})
	if sizes[0] != 4<<20 {
		t.Errorf("got %d bytes, want %d", sizes[0], 4<<20)
	}
}

func TestConsensusOverQUIC(t *testing.T) {
	// Goal: the consensus transport works over QUIC, where a half-closed
	// stream behaves differently from yamux over TCP (a writer's CloseRead
	// sends STOP_SENDING, and the reader must not give up on its stream
	// because of it). Method: two validators listening on QUIC only send
	// each other 50 messages; every one must arrive, in order.
	sinks := []*consSink{newConsSink(), newConsSink()}
	hosts := validatorHosts(t, 2, func(c *Config) {
		c.ListenAddrs = []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
	}, func(i int) Handlers { return Handlers{OnConsensus: sinks[i].onConsensus} })
	connect(t, hosts[0], hosts[1])
	const count = 50
	for seq := uint64(0); seq < count; seq++ {
		if err := hosts[0].SendConsensus(hosts[1].ID(), seqMsg(seq, 64)); err != nil {
			t.Fatal(err)
		}
		if err := hosts[1].SendConsensus(hosts[0].ID(), seqMsg(seq, 64)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // separate writes, so each may open a stream anew
	}
	waitFor(t, testWait, "all messages over QUIC", func() bool {
		return len(sinks[1].from(hosts[0].ID())) >= count && len(sinks[0].from(hosts[1].ID())) >= count
	})
	for i, got := range [][]uint64{sinks[1].from(hosts[0].ID()), sinks[0].from(hosts[1].ID())} {
		for j, seq := range got[:count] {
			if seq != uint64(j) {
				t.Fatalf("direction %d: message %d has sequence %d", i, j, seq)
			}
		}
	}
}
