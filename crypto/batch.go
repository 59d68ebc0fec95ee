package crypto

import (
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// singleVerifyMax is the largest batch checked one signature at a time: a
// batch equation has a fixed cost (random scalars, a multiscalar
// multiplication set-up) that one or two signatures do not amortise. On
// the development machine (BenchmarkBatchVerify) a batch of one costs 38
// µs, of two 26 µs a signature, of three 21, and one check against a
// cached expanded key 22.
const singleVerifyMax = 2

// BatchVerifier checks many signatures at once, about 2.5 times faster than
// one by one. Its verdict on each signature equals Verify's (see the
// package doc). It is not safe for concurrent use.
type BatchVerifier struct {
	batch *voi.BatchVerifier
	count int
	// refused holds the Add-order indices of entries judged invalid before
	// reaching the curve (an oversized chain id); Verify reports them false.
	refused []int
	// queued holds the other entries, in Add order, until Verify decides
	// between one batch equation and single checks.
	queued []queuedSig
}

// queuedSig is one signature waiting for Verify; expanded is nil when the
// key is not a point.
type queuedSig struct {
	expanded *voi.ExpandedPublicKey
	pk       PublicKey
	payload  []byte
	sig      Signature
}

// NewBatchVerifier returns a verifier with room for capacity signatures.
func NewBatchVerifier(capacity int) *BatchVerifier {
	return &BatchVerifier{batch: voi.NewBatchVerifierWithCapacity(capacity), queued: make([]queuedSig, 0, capacity)}
}

// Add queues one signature. An entry Verify would refuse for its chain id
// is queued as invalid rather than panicking, so the two paths agree.
func (b *BatchVerifier) Add(pk PublicKey, domain Domain, chainID string, message []byte, sig Signature) {
	if ValidateChainID(chainID) != nil {
		b.refused = append(b.refused, b.count)
		b.count++
		return
	}
	b.queued = append(b.queued, queuedSig{expanded: expandedKeys.get(pk), pk: pk, payload: SigningPayload(domain, chainID, message), sig: sig})
	b.count++
}

// verifyQueued judges the queued signatures, in order: one by one for a
// batch too small to gain from the batch equation, else in one batch.
func (b *BatchVerifier) verifyQueued() (allValid bool, valid []bool) {
	if len(b.queued) <= singleVerifyMax {
		allValid, valid = true, make([]bool, len(b.queued))
		for i := range b.queued {
			valid[i] = b.queued[i].verify()
			allValid = allValid && valid[i]
		}
		return allValid, valid
	}
	for i := range b.queued {
		q := &b.queued[i]
		if q.expanded != nil {
			b.batch.AddExpandedWithOptions(q.expanded, q.payload, q.sig[:], verifyOptions)
		} else {
			// Not a point: the batch judges it invalid, as Verify would.
			b.batch.AddWithOptions(q.pk[:], q.payload, q.sig[:], verifyOptions)
		}
	}
	allValid, valid = b.batch.Verify(nil)
	b.batch.Reset()
	return allValid, valid
}

// verify checks one queued signature alone, under the same rule.
func (q *queuedSig) verify() bool {
	if q.expanded != nil {
		return voi.VerifyExpandedWithOptions(q.expanded, q.payload, q.sig[:], verifyOptions)
	}
	return voi.VerifyWithOptions(q.pk[:], q.payload, q.sig[:], verifyOptions)
}

// Len is the number of queued signatures.
func (b *BatchVerifier) Len() int { return b.count }

// Verify checks every queued signature and empties the batch. It reports
// whether all were valid and, per signature in Add order, which were.
// The batch's random scalars come from crypto/rand; they affect only the
// (negligible) chance of a false "all valid", never which single signature
// is judged valid, because a failed batch falls back to one-by-one checks.
func (b *BatchVerifier) Verify() (allValid bool, valid []bool) {
	if b.count == 0 {
		return true, nil
	}
	valid = make([]bool, b.count)
	allValid = true
	var queuedValid []bool
	if len(b.queued) > 0 {
		allValid, queuedValid = b.verifyQueued()
	}
	// Merge the curve verdicts with the refused entries, in Add order.
	next, refused := 0, b.refused
	for i := range valid {
		if len(refused) > 0 && refused[0] == i {
			refused = refused[1:]
			continue
		}
		valid[i] = queuedValid[next]
		next++
	}
	if len(b.refused) > 0 {
		allValid = false
	}
	clear(b.queued) // drop the payloads for the collector
	b.queued = b.queued[:0]
	b.count = 0
	b.refused = b.refused[:0]
	return allValid, valid
}
