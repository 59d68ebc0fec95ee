package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"
)

// NodeStatus is what a node's admin endpoint reports (the JSON of
// node.AdminStatus; this package reads it over HTTP, not by import).
type NodeStatus struct {
	// NodeID is the node's libp2p peer id, from its node key.
	NodeID       string `json:"nodeId"`
	Moniker      string `json:"moniker"`
	Height       uint64 `json:"height"`
	View         uint64 `json:"view"`
	Primary      int    `json:"primary"`
	Peers        int    `json:"peers"`
	Syncing      bool   `json:"syncing"`
	MempoolSize  int    `json:"mempoolSize"`
	CommittedTxs uint64 `json:"committedTxs"`
	PID          int    `json:"pid"`
	// Evidence names validators the node caught misbehaving.
	Evidence []Evidence `json:"evidence"`
}

// Evidence is one entry of a node's evidence list.
type Evidence struct {
	Validator uint16 `json:"validator"`
	Kind      uint8  `json:"kind"`
	Reason    string `json:"reason"`
}

// statusBytesMax bounds a status response.
const statusBytesMax = 64 << 10

// Status asks node i for its status. It fails with ErrNotThisNode when
// the process answering at node i's admin address is not node i, rather
// than return another process's numbers as node i's.
func (n *Network) Status(ctx context.Context, i int) (NodeStatus, error) {
	st, err := n.fetchStatus(ctx, i)
	if err != nil {
		return NodeStatus{}, err
	}
	if err := n.checkIdentity(i, st); err != nil {
		return NodeStatus{}, err
	}
	return st, nil
}

// fetchStatus reads whatever answers at node i's admin address.
func (n *Network) fetchStatus(ctx context.Context, i int) (NodeStatus, error) {
	m, err := n.member(i)
	if err != nil {
		return NodeStatus{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.Admin+"/admin/status", nil)
	if err != nil {
		return NodeStatus{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return NodeStatus{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return NodeStatus{}, fmt.Errorf("status of node %d: %s", i, resp.Status)
	}
	var st NodeStatus
	if err := json.NewDecoder(io.LimitReader(resp.Body, statusBytesMax)).Decode(&st); err != nil {
		return NodeStatus{}, fmt.Errorf("status of node %d: %w", i, err)
	}
	return st, nil
}

// ErrNotThisNode is returned when a node's admin address is answered by a
// process that is not that node (checkIdentity): another network, most
// likely, runs on the same ports.
var ErrNotThisNode = errors.New("testnet: answered by another process")

// checkIdentity fails with ErrNotThisNode unless st came from node i: the
// peer id must be the one node i's node key gives (recorded in the
// network's manifest), and the pid the one its pid file records. Either
// may be left from another run: a stale pid file whose node died, while
// another network's node took the ports. What is not recorded (no peer
// id, no pid file) is not checked.
func (n *Network) checkIdentity(i int, st NodeStatus) error {
	m, err := n.member(i)
	if err != nil {
		return err
	}
	if m.PeerID != "" && st.NodeID != m.PeerID {
		return fmt.Errorf("%w: node %d's admin address %s answers as peer %q, but node %d is peer %s; is another network using these ports?",
			ErrNotThisNode, i, m.Admin, st.NodeID, i, m.PeerID)
	}
	if pid, err := n.PID(i); err == nil && st.PID != 0 && st.PID != pid {
		return fmt.Errorf("%w: node %d's admin address %s answers as pid %d, but node %d's pid file records pid %d; is another network using these ports?",
			ErrNotThisNode, i, m.Admin, st.PID, i, pid)
	}
	return nil
}

// WaitUp waits until node i answers on its admin endpoint as the process
// its pid file names (a node just started opens its store and keys
// first), or fails as WaitHeight does.
func (n *Network) WaitUp(ctx context.Context, i int) error {
	return n.WaitHeight(ctx, 0, []int{i})
}

// WaitHeight waits until every node in which (all when nil) reports a
// height of at least h, or ctx ends. It fails at once when a node that
// has a pid file exits, or when its admin port is answered by a process
// that is not that node (ErrNotThisNode), rather than waiting out ctx or,
// worse, taking another network's height for this one's.
func (n *Network) WaitHeight(ctx context.Context, h uint64, which []int) error {
	if which == nil {
		for i := range n.Members {
			which = append(which, i)
		}
	}
	for {
		lowest, lowestNode, err := uint64(1<<63), -1, error(nil)
		for _, i := range which {
			pid, pidErr := n.PID(i)
			if pidErr == nil && !n.Alive(i) {
				m, _ := n.member(i)
				return fmt.Errorf("%w: node %d (pid %d) exited; see %s", ErrNotRunning, i, pid, filepath.Join(m.Home, logFile))
			}
			st, e := n.Status(ctx, i)
			if errors.Is(e, ErrNotThisNode) {
				return e
			}
			if e != nil {
				lowest, lowestNode, err = 0, i, e
				break
			}
			if st.Height < lowest {
				lowest, lowestNode = st.Height, i
			}
		}
		if err == nil && lowest >= h {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("node %d never answered: %w", lowestNode, err)
			}
			return fmt.Errorf("node %d at height %d, want %d: %w", lowestNode, lowest, h, errors.Join(ctx.Err()))
		case <-time.After(200 * time.Millisecond):
		}
	}
}
