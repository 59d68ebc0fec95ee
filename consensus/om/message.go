package om

import "encoding/binary"

// Message is one oral message: "I, From, tell To that the value relayed to
// me along Path is Value". Path starts with the instance's commander and
// ends with From; its length is the round it belongs to. Signatures are not
// here: the node wraps the encoded message in a signed envelope and checks
// that the signer is From.
type Message struct {
	Instance uint64 // instance id, e.g. the checkpoint height
	From     NodeID // the sender, the last hop of Path
	To       NodeID // the receiver, never on Path
	Path     []NodeID
	Value    []byte // at most ValueBytesMax; empty is the default value RETREAT
}

// Commander is the commander of the instance the message belongs to, and
// false for a message with an empty path.
func (m Message) Commander() (NodeID, bool) {
	if len(m.Path) == 0 {
		return 0, false
	}
	return m.Path[0], true
}

// Wire format, version 1, all integers big-endian:
//
//	version  1 byte  (MessageVersion)
//	instance 8 bytes
//	from     1 byte
//	to       1 byte
//	pathLen  1 byte  (1..PathIDsMax), then pathLen ids of 1 byte
//	valueLen 1 byte  (0..ValueBytesMax), then valueLen bytes
//
// Every field has one encoding, so Decode accepts exactly the bytes
// AppendEncode produces: no trailing bytes, no alternative lengths.
const (
	MessageVersion  = 1
	messageHeadSize = 1 + 8 + 1 + 1 + 1
	// MessageBytesMax bounds an encoded message.
	MessageBytesMax = messageHeadSize + PathIDsMax + 1 + ValueBytesMax
)

// EncodedSize is the length of the message's encoding.
func (m Message) EncodedSize() int { return messageHeadSize + len(m.Path) + 1 + len(m.Value) }

// AppendEncode appends the message's encoding to dst. Messages made by a
// Node are always encodable; a hand-built one must respect the limits, which
// Validate checks.
func (m Message) AppendEncode(dst []byte) []byte {
	dst = append(dst, MessageVersion)
	dst = binary.BigEndian.AppendUint64(dst, m.Instance)
	dst = append(dst, byte(m.From), byte(m.To), byte(len(m.Path)))
	for _, id := range m.Path {
		dst = append(dst, byte(id))
	}
	dst = append(dst, byte(len(m.Value)))
	return append(dst, m.Value...)
}

// Validate checks the limits that make a message encodable and decodable:
// path length, id range and value size. Meaning (commander, receiver,
// round) is checked by Step against the instance.
func (m Message) Validate() error {
	if len(m.Path) == 0 || len(m.Path) > PathIDsMax {
		return ErrPathLength
	}
	if len(m.Value) > ValueBytesMax {
		return ErrValueTooLarge
	}
	if int(m.From) >= NodesMax || int(m.To) >= NodesMax {
		return ErrNodeRange
	}
	for _, id := range m.Path {
		if int(id) >= NodesMax {
			return ErrNodeRange
		}
	}
	return nil
}

// Decode parses one encoded message. It never panics and never reads past
// MessageBytesMax; the returned Path and Value are fresh copies, so buf may
// be reused. A nil Value stands for an empty one.
func Decode(buf []byte) (Message, error) {
	if len(buf) > MessageBytesMax {
		return Message{}, ErrMessageLong
	}
	if len(buf) < messageHeadSize {
		return Message{}, ErrMessageShort
	}
	if buf[0] != MessageVersion {
		return Message{}, ErrMessageVersion
	}
	m := Message{
		Instance: binary.BigEndian.Uint64(buf[1:9]),
		From:     NodeID(buf[9]),
		To:       NodeID(buf[10]),
	}
	pathLen := int(buf[11])
	rest := buf[messageHeadSize:]
	if pathLen == 0 || pathLen > PathIDsMax {
		return Message{}, ErrPathLength
	}
	if len(rest) < pathLen+1 {
		return Message{}, ErrMessageShort
	}
	m.Path = make([]NodeID, pathLen)
	for i := range m.Path {
		m.Path[i] = NodeID(rest[i])
	}
	valueLen := int(rest[pathLen])
	rest = rest[pathLen+1:]
	if valueLen > ValueBytesMax {
		return Message{}, ErrValueTooLarge
	}
	if len(rest) < valueLen {
		return Message{}, ErrMessageShort
	}
	if len(rest) > valueLen {
		return Message{}, ErrMessageLong
	}
	if valueLen > 0 {
		m.Value = append([]byte(nil), rest...)
	}
	if err := m.Validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}
