package ledger

import "github.com/synod-chain/synod/crypto"

// PendingStateDepth is how many diffs a read of the state after pending
// block h may walk before it reaches the committed state.
func PendingStateDepth(p *PendingChain, h crypto.Hash) int {
	pb, ok := p.pending[h]
	if !ok {
		return 0
	}
	return pendingState{p, pb}.depth()
}
