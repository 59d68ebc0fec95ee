package om

import (
	"bytes"
	"errors"
	"testing"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	// Goal: Decode inverts AppendEncode for every message a run produces,
	// and the encoding is within MessageBytesMax; method: encode and decode
	// every message of an interactive run with digest-sized values.
	w, err := NewVectorNetwork(5, 2)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	w.Observe = func(_ int, m Message) {
		seen++
		buf := m.AppendEncode(nil)
		if len(buf) != m.EncodedSize() || len(buf) > MessageBytesMax {
			t.Fatalf("encoded %d bytes, EncodedSize %d, max %d", len(buf), m.EncodedSize(), MessageBytesMax)
		}
		got, err := Decode(buf)
		if err != nil {
			t.Fatalf("Decode(%x): %v", buf, err)
		}
		if got.Instance != m.Instance || got.From != m.From || got.To != m.To ||
			!bytes.Equal(nodeBytes(got.Path), nodeBytes(m.Path)) || !bytes.Equal(got.Value, m.Value) {
			t.Fatalf("round trip: got %+v, want %+v", got, m)
		}
	}
	values := [][]byte{digestValue(0), nil, digestValue(2), make([]byte, ValueBytesMax), {7}}
	if _, err := w.Run(values, make([]Strategy, 5)); err != nil {
		t.Fatal(err)
	}
	if seen != 5*MessagesPerInstance(5, 2) {
		t.Fatalf("observed %d messages", seen)
	}
}

func nodeBytes(path []NodeID) []byte {
	out := make([]byte, len(path))
	for i, id := range path {
		out[i] = byte(id)
	}
	return out
}

// validEncoding is a well-formed message: instance 7, 1 → 3, path [0 1],
// value 0xab.
func validEncoding() []byte {
	return Message{Instance: 7, From: 1, To: 3, Path: []NodeID{0, 1}, Value: []byte{0xab}}.AppendEncode(nil)
}

func TestDecodeRejectsMalformed(t *testing.T) {
	// Goal: every malformed encoding is refused with its sentinel and never
	// panics; method: a table of single defects applied to a valid message.
	edit := func(f func(b []byte) []byte) []byte { return f(validEncoding()) }
	cases := []struct {
		name string
		buf  []byte
		want error
	}{
		{"valid", validEncoding(), nil},
		{"empty", nil, ErrMessageShort},
		{"header only part", []byte{MessageVersion, 0, 0}, ErrMessageShort},
		{"too long", make([]byte, MessageBytesMax+1), ErrMessageLong},
		{"version", edit(func(b []byte) []byte { b[0] = 2; return b }), ErrMessageVersion},
		{"empty path", edit(func(b []byte) []byte { b[11] = 0; return b }), ErrPathLength},
		{"path too long", edit(func(b []byte) []byte { b[11] = PathIDsMax + 1; return b }), ErrPathLength},
		{"path truncated", edit(func(b []byte) []byte { b[11] = 9; return b }), ErrMessageShort},
		{"value too large", edit(func(b []byte) []byte { b[14] = ValueBytesMax + 1; return b }), ErrValueTooLarge},
		{"value truncated", edit(func(b []byte) []byte { b[14] = 5; return b }), ErrMessageShort},
		{"trailing byte", append(validEncoding(), 0), ErrMessageLong},
		{"from out of range", edit(func(b []byte) []byte { b[9] = NodesMax; return b }), ErrNodeRange},
		{"path id out of range", edit(func(b []byte) []byte { b[13] = 200; return b }), ErrNodeRange},
	}
	for _, tc := range cases {
		_, err := Decode(tc.buf)
		if !errorIs(err, tc.want) {
			t.Errorf("%s: Decode = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestStepRejectsHostileMessages(t *testing.T) {
	// Goal: Step refuses every malformed, misaddressed, mistimed or
	// duplicate message with its sentinel and stays usable; method: a node
	// (n=5, m=2, self 2, commander 0) in round 2 gets one defect per case,
	// then the valid message must still be accepted once.
	nd, err := NewNode(Config{Nodes: 5, Faults: 2, Self: 2, Commander: 0, Instance: 7}, nil)
	if err != nil {
		t.Fatal(err)
	}
	nd.Tick()
	nd.Tick()
	valid := Message{Instance: 7, From: 1, To: 2, Path: []NodeID{0, 1}, Value: []byte{0xab}}
	with := func(f func(m *Message)) Message {
		m := valid
		m.Path = append([]NodeID(nil), valid.Path...)
		f(&m)
		return m
	}
	cases := []struct {
		name string
		msg  Message
		want error
	}{
		{"other instance", with(func(m *Message) { m.Instance = 8 }), ErrInstance},
		{"other receiver", with(func(m *Message) { m.To = 3 }), ErrReceiver},
		{"oversize value", with(func(m *Message) { m.Value = make([]byte, ValueBytesMax+1) }), ErrValueTooLarge},
		{"empty path", with(func(m *Message) { m.Path = nil }), ErrPathLength},
		{"path longer than m+1", with(func(m *Message) { m.Path = []NodeID{0, 1, 3, 4}; m.From = 4 }), ErrPathLength},
		{"wrong commander", with(func(m *Message) { m.Path = []NodeID{1, 3}; m.From = 3 }), ErrCommander},
		{"id out of range", with(func(m *Message) { m.Path = []NodeID{0, 9}; m.From = 9 }), ErrNodeRange},
		{"repeated id", with(func(m *Message) { m.Path = []NodeID{0, 0}; m.From = 0 }), ErrPathRepeat},
		{"path through receiver", with(func(m *Message) { m.Path = []NodeID{0, 2}; m.From = 2 }), ErrPathReceiver},
		{"sender not last hop", with(func(m *Message) { m.From = 3 }), ErrSender},
		{"late", with(func(m *Message) { m.Path = []NodeID{0}; m.From = 0 }), ErrRoundLate},
		{"early", with(func(m *Message) { m.Path = []NodeID{0, 1, 3}; m.From = 3 }), ErrRoundEarly},
	}
	for _, tc := range cases {
		if err := nd.Step(tc.msg); !errors.Is(err, tc.want) {
			t.Errorf("%s: Step = %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := nd.Step(valid); err != nil {
		t.Fatalf("valid message after rejects: %v", err)
	}
	forged := with(func(m *Message) { m.Value = []byte{0xcd} })
	if err := nd.Step(forged); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second message for one path: %v, want ErrDuplicate", err)
	}
}

func TestInteractiveStepRoutesOrRejects(t *testing.T) {
	// Goal: Interactive refuses messages it cannot route to an instance and
	// passes instance errors through; method: an empty path, a commander out
	// of range and a message for another receiver.
	ic, err := NewInteractive(InteractiveConfig{Nodes: 4, Faults: 1, Self: 1}, attack)
	if err != nil {
		t.Fatal(err)
	}
	ic.Tick()
	cases := []struct {
		msg  Message
		want error
	}{
		{Message{From: 0, To: 1}, ErrPathLength},
		{Message{From: 9, To: 1, Path: []NodeID{9}}, ErrNodeRange},
		{Message{From: 2, To: 3, Path: []NodeID{2}}, ErrReceiver},
		{Message{From: 2, To: 1, Path: []NodeID{2}}, nil},
	}
	for _, tc := range cases {
		if err := ic.Step(tc.msg); !errorIs(err, tc.want) {
			t.Errorf("Step(%+v) = %v, want %v", tc.msg, err, tc.want)
		}
	}
}

func FuzzDecodeStep(f *testing.F) {
	// Goal: no byte string makes Decode or Step panic, every accepted
	// encoding is canonical, and an accepted message is accepted only once;
	// method: decode, re-encode, then step into an interactive run (n=7,
	// m=2, self 3, instance 7) ticked to the message's round.
	f.Add(validEncoding())
	f.Add(Message{Instance: 7, From: 0, To: 3, Path: []NodeID{0}, Value: digestValue(1)}.AppendEncode(nil))
	f.Add(Message{Instance: 7, From: 5, To: 3, Path: []NodeID{2, 4, 5}}.AppendEncode(nil))
	f.Add(Message{Instance: 7, From: 3, To: 3, Path: []NodeID{3, 3}}.AppendEncode(nil))
	f.Add([]byte{})
	f.Add([]byte{MessageVersion, 0, 0, 0, 0, 0, 0, 0, 7, 1, 3, 0, 0})
	f.Add(make([]byte, MessageBytesMax+1))
	f.Fuzz(func(t *testing.T, buf []byte) {
		m, err := Decode(buf)
		if err != nil {
			return
		}
		if again := m.AppendEncode(nil); !bytes.Equal(again, buf) {
			t.Fatalf("non-canonical: %x decodes and re-encodes as %x", buf, again)
		}
		ic, err := NewInteractive(InteractiveConfig{Nodes: 7, Faults: 2, Self: 3, Instance: 7}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range min(len(m.Path), ic.Rounds()+1) {
			ic.Tick()
		}
		if err := ic.Step(m); err != nil {
			return
		}
		if err := ic.Step(m); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("accepted twice: %v", err)
		}
	})
}
