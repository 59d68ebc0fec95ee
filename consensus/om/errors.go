package om

import "errors"

// Errors returned for input from outside (decoded bytes, peers' messages,
// configuration). They are sentinels so that the node can branch on them:
// ErrRoundEarly means "keep and retry after the next Tick", every other
// message error means "drop, possibly keep as evidence".
var (
	// Configuration.
	ErrNodes     = errors.New("om: node count out of range")
	ErrFaults    = errors.New("om: fault count out of range")
	ErrTreeLarge = errors.New("om: EIG tree exceeds TreeNodesMax")
	// ErrRunLarge: a simulation would send more than SimulateMessagesMax
	// messages.
	ErrRunLarge = errors.New("om: simulation exceeds SimulateMessagesMax messages")

	// Message shape (decoding and Step).
	ErrMessageShort   = errors.New("om: message truncated")
	ErrMessageLong    = errors.New("om: message exceeds MessageBytesMax or has trailing bytes")
	ErrMessageVersion = errors.New("om: unknown message version")
	ErrValueTooLarge  = errors.New("om: value exceeds ValueBytesMax")
	ErrPathLength     = errors.New("om: path empty or longer than m+1")

	// Message meaning (Step).
	ErrInstance     = errors.New("om: message for another instance")
	ErrReceiver     = errors.New("om: message addressed to another node")
	ErrCommander    = errors.New("om: path does not start at this instance's commander")
	ErrNodeRange    = errors.New("om: node id out of range")
	ErrPathRepeat   = errors.New("om: path repeats a node id")
	ErrPathReceiver = errors.New("om: path contains the receiver")
	ErrSender       = errors.New("om: sender is not the last hop of the path")
	ErrRoundLate    = errors.New("om: message path is shorter than the current round (late)")
	ErrRoundEarly   = errors.New("om: message path is longer than the current round (early)")
	ErrDuplicate    = errors.New("om: duplicate message for a path")
)
