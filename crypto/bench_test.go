package crypto

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
)

// benchMessage is the size of a small transfer transaction's encoding.
var benchMessage = make([]byte, 128)

// reportPerSig adds ns/sig and sigs/s for a benchmark that checks sigs
// signatures per iteration.
func reportPerSig(b *testing.B, sigs int) {
	elapsed := b.Elapsed().Nanoseconds()
	total := float64(b.N) * float64(sigs)
	if elapsed == 0 || total == 0 {
		return
	}
	b.ReportMetric(float64(elapsed)/total, "ns/sig")
	b.ReportMetric(total/(float64(elapsed)/1e9), "sigs/s")
}

// BenchmarkSign measures one domain-separated signature.
func BenchmarkSign(b *testing.B) {
	k := testKey(b, 1)
	for b.Loop() {
		k.Sign(DomainTx, "bench", benchMessage)
	}
	reportPerSig(b, 1)
}

// BenchmarkVerify measures Verify on one valid signature.
func BenchmarkVerify(b *testing.B) {
	k := testKey(b, 1)
	sig := k.Sign(DomainTx, "bench", benchMessage)
	for b.Loop() {
		if err := Verify(k.Public(), DomainTx, "bench", benchMessage, sig); err != nil {
			b.Fatal(err)
		}
	}
	reportPerSig(b, 1)
}

// BenchmarkStdVerify measures crypto/ed25519.Verify on the same payload,
// for comparison (it is cofactorless and skips our key checks).
func BenchmarkStdVerify(b *testing.B) {
	k := testKey(b, 1)
	sig := k.Sign(DomainTx, "bench", benchMessage)
	pub := k.Public()
	payload := SigningPayload(DomainTx, "bench", benchMessage)
	for b.Loop() {
		if !ed25519.Verify(pub[:], payload, sig[:]) {
			b.Fatal("invalid")
		}
	}
	reportPerSig(b, 1)
}

// BenchmarkBatchVerify measures BatchVerifier on all-valid batches from
// distinct signers, including the cost of Add.
func BenchmarkBatchVerify(b *testing.B) {
	for _, n := range []int{1, 2, 3, 4, 8, 16, 64, 256} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			pks := make([]PublicKey, n)
			msgs := make([][]byte, n)
			sigs := make([]Signature, n)
			for i := range n {
				k := keyNumber(byte(i))
				pks[i] = k.Public()
				msgs[i] = append([]byte{byte(i), byte(i >> 8)}, benchMessage...)
				sigs[i] = k.Sign(DomainTx, "bench", msgs[i])
			}
			bv := NewBatchVerifier(n)
			for b.Loop() {
				for i := range n {
					bv.Add(pks[i], DomainTx, "bench", msgs[i], sigs[i])
				}
				if all, _ := bv.Verify(); !all {
					b.Fatal("batch invalid")
				}
			}
			reportPerSig(b, n)
		})
	}
}

// BenchmarkDecryptKeyDefault measures opening a key file made with
// DefaultKDFParams: the cost a password guesser pays per guess.
func BenchmarkDecryptKeyDefault(b *testing.B) {
	data, err := EncryptKey(testKey(b, 1), testPassword, DefaultKDFParams(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := DecryptKey(data, testPassword); err != nil {
			b.Fatal(err)
		}
	}
}
