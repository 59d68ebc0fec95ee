package sim

import (
	"fmt"
	"slices"

	"github.com/synod-chain/synod/consensus/pbft"
)

// The promises a correct replica keeps across crashes and restarts,
// checked on every message it sends. The agreement checker sees a broken
// promise only in the rare schedule where it forks the chain; these see
// it the moment it is broken.

type voteKey struct {
	from         uint16
	kind         pbft.Kind
	view, height uint64
}

// checkPromises checks a message correct node n signs: never two digests
// for one (view, height) PRE-PREPARE, PREPARE or COMMIT (double-sign
// protection), and a VIEW-CHANGE that reports, at every height above its
// checkpoint where the replica sent a COMMIT in an earlier view, a
// prepared certificate of that view or a later one (§4.4: a block that may
// have committed must reach the new view).
func (w *Network) checkPromises(n *Node, m *pbft.Message) error {
	if n.Faulty || m.From != n.ID {
		return nil // relayed, or signed with a key faulty nodes hold
	}
	switch m.Kind {
	case pbft.KindPrePrepare, pbft.KindPrepare, pbft.KindCommit:
		return w.checkVote(m)
	case pbft.KindNewView:
		for _, pp := range m.NewView.PrePrepares {
			if err := w.checkVote(pp); err != nil {
				return err
			}
		}
	case pbft.KindViewChange:
		return w.checkViewChangeKeepsCommits(m)
	}
	return nil
}

func (w *Network) checkVote(m *pbft.Message) error {
	k := voteKey{m.From, m.Kind, m.View, m.Height}
	if d, ok := w.votes[k]; ok && d != m.Digest {
		return fmt.Errorf("%w: correct validator %d signed %s after signing digest %s there", ErrSafety, m.From, m, d.Short())
	}
	w.votes[k] = m.Digest
	if m.Kind == pbft.KindCommit {
		if w.commitViews[m.From] == nil {
			w.commitViews[m.From] = make(map[uint64]uint64)
		}
		w.commitViews[m.From][m.Height] = max(w.commitViews[m.From][m.Height], m.View)
	}
	return nil
}

func (w *Network) checkViewChangeKeepsCommits(m *pbft.Message) error {
	vc := m.ViewChange
	certs := make(map[uint64]uint64, len(vc.Prepared))
	for i := range vc.Prepared {
		certs[vc.Prepared[i].Height()] = vc.Prepared[i].View
	}
	commits := w.commitViews[m.From]
	heights := make([]uint64, 0, len(commits))
	for h := range commits {
		heights = append(heights, h)
	}
	slices.Sort(heights)
	for _, h := range heights {
		v := commits[h]
		if h <= vc.Checkpoint.Height || v >= m.View {
			continue
		}
		if cv, ok := certs[h]; !ok || cv < v {
			return fmt.Errorf("%w: correct validator %d sent COMMIT at height %d in view %d, then %s with checkpoint %d and no certificate there of view %d or later",
				ErrSafety, m.From, h, v, m, vc.Checkpoint.Height, v)
		}
	}
	return nil
}
