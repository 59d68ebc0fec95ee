package ledger

import (
	"errors"
	"fmt"

	"github.com/synod-chain/synod/crypto"
)

// Validator set limits.
const (
	ValidatorsMax            = 256
	ValidatorNameBytesMax    = 64
	ValidatorNetAddrBytesMax = 256
)

// Validator is one member of the validator set. Its index in the set is its
// identity inside consensus messages and certificates.
type Validator struct {
	Name       string           `json:"name"`
	PublicKey  crypto.PublicKey `json:"public_key"`
	NetAddress string           `json:"net_address,omitempty"`
}

// Address is the validator's account address, where its fees are paid.
func (v Validator) Address() crypto.Address { return v.PublicKey.Address() }

// ValidatorSet is the fixed, ordered set of validators of a chain.
type ValidatorSet struct {
	vals  []Validator
	index map[crypto.PublicKey]int
}

// ErrNoValidators is returned for an empty validator set.
var ErrNoValidators = errors.New("validators: need at least one validator")

// NewValidatorSet checks vals (count, distinct valid keys, bounded names)
// and returns the set in the given order.
func NewValidatorSet(vals []Validator) (*ValidatorSet, error) {
	if len(vals) == 0 {
		return nil, ErrNoValidators
	}
	if len(vals) > ValidatorsMax {
		return nil, fmt.Errorf("validators: %d exceeds limit %d", len(vals), ValidatorsMax)
	}
	set := &ValidatorSet{vals: append([]Validator(nil), vals...), index: make(map[crypto.PublicKey]int, len(vals))}
	for i, v := range vals {
		if err := crypto.ValidatePublicKey(v.PublicKey); err != nil {
			return nil, fmt.Errorf("validator %d (%q): %w", i, v.Name, err)
		}
		if len(v.Name) > ValidatorNameBytesMax || len(v.NetAddress) > ValidatorNetAddrBytesMax {
			return nil, fmt.Errorf("validator %d (%q): name or net address too long", i, v.Name)
		}
		if j, dup := set.index[v.PublicKey]; dup {
			return nil, fmt.Errorf("validators %d and %d share public key %s", j, i, v.PublicKey)
		}
		set.index[v.PublicKey] = i
	}
	return set, nil
}

// Len is n, the number of validators.
func (s *ValidatorSet) Len() int { return len(s.vals) }

// F is the number of Byzantine validators tolerated: the largest f with
// n >= 3f+1.
func (s *ValidatorSet) F() int { return (len(s.vals) - 1) / 3 }

// Quorum is the smallest number of validators such that any two quorums
// share at least f+1 validators, hence at least one correct one:
// floor((n+f)/2)+1. For n = 3f+1 this is the textbook 2f+1; for other n,
// 2f+1 would be unsafe (n = 5, f = 1: two sets of 3 may share only one,
// possibly faulty, validator).
func (s *ValidatorSet) Quorum() int { return (len(s.vals)+s.F())/2 + 1 }

// At returns validator i; it panics if i is out of range (a programmer
// error: indices from the outside are checked with Contains first).
func (s *ValidatorSet) At(i int) Validator { return s.vals[i] }

// Contains reports whether i is a valid validator index.
func (s *ValidatorSet) Contains(i int) bool { return i >= 0 && i < len(s.vals) }

// IndexOf returns the index of the validator with key pk.
func (s *ValidatorSet) IndexOf(pk crypto.PublicKey) (int, bool) {
	i, ok := s.index[pk]
	return i, ok
}

// Primary is the index of the primary (proposer) of view v.
func (s *ValidatorSet) Primary(view uint64) int { return int(view % uint64(len(s.vals))) }

// All returns a copy of the validators in order.
func (s *ValidatorSet) All() []Validator { return append([]Validator(nil), s.vals...) }
