package ledger_test

import (
	"bytes"
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Generators of arbitrary well-formed values. They produce values the
// decoders accept (chain ids of at most crypto.ChainIDBytesMax bytes, memos
// of at most TxMemoBytesMax), not necessarily valid ones: keys and
// signatures are random bytes, since the encoding does not judge them.

func genBytesN(n int) *rapid.Generator[[]byte] { return rapid.SliceOfN(rapid.Byte(), n, n) }

// genLen draws a length in 0..max, with the edges drawn often.
func genLen(max int) *rapid.Generator[int] {
	return rapid.OneOf(rapid.IntRange(0, max), rapid.SampledFrom([]int{0, 1, max - 1, max}))
}

func genVarBytes(max int) *rapid.Generator[[]byte] {
	return rapid.Custom(func(t *rapid.T) []byte {
		return genBytesN(genLen(max).Draw(t, "len")).Draw(t, "bytes")
	})
}

func genHash() *rapid.Generator[crypto.Hash] {
	return rapid.Custom(func(t *rapid.T) (h crypto.Hash) {
		copy(h[:], genBytesN(crypto.HashBytes).Draw(t, "hash"))
		return h
	})
}

func genTx() *rapid.Generator[*ledger.Tx] {
	return rapid.Custom(func(t *rapid.T) *ledger.Tx {
		tx := &ledger.Tx{
			ChainID: string(genVarBytes(crypto.ChainIDBytesMax).Draw(t, "chain")),
			Nonce:   rapid.Uint64().Draw(t, "nonce"),
			Amount:  rapid.Uint64().Draw(t, "amount"),
			Fee:     rapid.Uint64().Draw(t, "fee"),
			Memo:    genVarBytes(ledger.TxMemoBytesMax).Draw(t, "memo"),
		}
		copy(tx.From[:], genBytesN(crypto.PublicKeyBytes).Draw(t, "from"))
		copy(tx.To[:], genBytesN(crypto.AddressBytes).Draw(t, "to"))
		copy(tx.Signature[:], genBytesN(crypto.SignatureBytes).Draw(t, "sig"))
		return tx
	})
}

func genHeader() *rapid.Generator[ledger.Header] {
	return rapid.Custom(func(t *rapid.T) ledger.Header {
		h := ledger.Header{
			ChainID:    string(genVarBytes(crypto.ChainIDBytesMax).Draw(t, "chain")),
			Height:     rapid.Uint64().Draw(t, "height"),
			View:       rapid.Uint64().Draw(t, "view"),
			ParentHash: genHash().Draw(t, "parent"),
			TxRoot:     genHash().Draw(t, "txroot"),
			StateRoot:  genHash().Draw(t, "stateroot"),
			Timestamp:  rapid.Int64().Draw(t, "timestamp"),
		}
		copy(h.Proposer[:], genBytesN(crypto.AddressBytes).Draw(t, "proposer"))
		return h
	})
}

func genBlock() *rapid.Generator[*ledger.Block] {
	return rapid.Custom(func(t *rapid.T) *ledger.Block {
		b := &ledger.Block{Header: genHeader().Draw(t, "header")}
		if rapid.Bool().Draw(t, "has txs") {
			b.Txs = rapid.SliceOfN(genTx(), 1, 6).Draw(t, "txs")
		}
		return b
	})
}

func genCert() *rapid.Generator[*ledger.CommitCertificate] {
	return rapid.Custom(func(t *rapid.T) *ledger.CommitCertificate {
		c := &ledger.CommitCertificate{
			Height:    rapid.Uint64().Draw(t, "height"),
			View:      rapid.Uint64().Draw(t, "view"),
			BlockHash: genHash().Draw(t, "hash"),
		}
		n := genLen(ledger.ValidatorsMax).Draw(t, "sigs")
		noise := genBytesN(8).Draw(t, "noise")
		for i := range n {
			// Signature bytes from a cheap expansion of the drawn noise:
			// drawing 64 bytes per signature for 256 signatures would make
			// each case slow without exercising anything more.
			var s crypto.Signature
			for j := range s {
				s[j] = noise[(i+j)%len(noise)] ^ byte(i*31+j)
			}
			c.Signatures = append(c.Signatures, ledger.CommitSignature{
				Validator: rapid.Uint16().Draw(t, "index"),
				Signature: s,
			})
		}
		return c
	})
}

func genAccount() *rapid.Generator[ledger.Account] {
	return rapid.Custom(func(t *rapid.T) ledger.Account {
		return ledger.Account{Balance: rapid.Uint64().Draw(t, "balance"), Nonce: rapid.Uint64().Draw(t, "nonce")}
	})
}

// checkStrictPrefixesAndExtensions asserts that decode refuses every strict
// prefix of enc and enc followed by extra bytes, with ErrMalformed or, for
// inputs over the decoder's limit, sizeErr.
func checkStrictPrefixesAndExtensions(t *rapid.T, enc []byte, sizeErr error, decode func([]byte) error) {
	cut := rapid.IntRange(0, len(enc)-1).Draw(t, "cut")
	if err := decode(enc[:cut]); !errors.Is(err, ledger.ErrMalformed) && !errors.Is(err, sizeErr) {
		t.Fatalf("decode of %d-byte prefix of %d bytes: err = %v, want ErrMalformed", cut, len(enc), err)
	}
	extra := rapid.SliceOfN(rapid.Byte(), 1, 16).Draw(t, "extra")
	long := append(bytes.Clone(enc), extra...)
	if err := decode(long); !errors.Is(err, ledger.ErrMalformed) && !errors.Is(err, sizeErr) {
		t.Fatalf("decode with %d extra bytes: err = %v, want ErrMalformed", len(extra), err)
	}
}

// TestTxEncodingRoundTrip checks that DecodeTx inverts Encode on arbitrary
// transactions and refuses every truncation and extension, by generating
// transactions with rapid.
func TestTxEncodingRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tx := genTx().Draw(t, "tx")
		enc := tx.Encode()
		got, err := ledger.DecodeTx(enc)
		if err != nil {
			t.Fatalf("DecodeTx: %v", err)
		}
		if !txEqual(got, tx) {
			t.Fatalf("round trip changed the tx:\n got %+v\nwant %+v", got, tx)
		}
		if !bytes.Equal(got.Encode(), enc) || got.Hash() != tx.Hash() {
			t.Fatalf("re-encoding differs")
		}
		if !bytes.Equal(tx.SigningBytes(), enc[:len(enc)-crypto.SignatureBytes]) {
			t.Fatalf("signing bytes are not the encoding without the signature")
		}
		if tx.EncodedLen() != len(enc) || got.EncodedLen() != len(enc) {
			t.Fatalf("EncodedLen %d (decoded: %d), encoding %d bytes", tx.EncodedLen(), got.EncodedLen(), len(enc))
		}
		checkStrictPrefixesAndExtensions(t, enc, ledger.ErrTxTooLarge, func(b []byte) error {
			_, err := ledger.DecodeTx(b)
			return err
		})
	})
}

// TestHeaderEncodingRoundTrip checks that DecodeHeader inverts EncodeHeader
// and refuses every truncation and extension, on rapid-generated headers.
func TestHeaderEncodingRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := genHeader().Draw(t, "header")
		enc := ledger.EncodeHeader(&h)
		if len(enc) > ledger.HeaderBytesMax {
			t.Fatalf("header encodes to %d bytes, over HeaderBytesMax %d", len(enc), ledger.HeaderBytesMax)
		}
		got, err := ledger.DecodeHeader(enc)
		if err != nil {
			t.Fatalf("DecodeHeader: %v", err)
		}
		if got != h || got.Hash() != h.Hash() {
			t.Fatalf("round trip changed the header:\n got %+v\nwant %+v", got, h)
		}
		checkStrictPrefixesAndExtensions(t, enc, ledger.ErrMalformed, func(b []byte) error {
			_, err := ledger.DecodeHeader(b)
			return err
		})
	})
}

// TestBlockEncodingRoundTrip checks that DecodeBlock inverts Encode, that
// EncodedSize is the encoding's length, and that truncations and
// extensions are refused, on rapid-generated blocks with and without txs.
func TestBlockEncodingRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := genBlock().Draw(t, "block")
		enc := b.Encode()
		if b.EncodedSize() != len(enc) {
			t.Fatalf("EncodedSize %d, encoding is %d bytes", b.EncodedSize(), len(enc))
		}
		got, err := ledger.DecodeBlock(enc)
		if err != nil {
			t.Fatalf("DecodeBlock: %v", err)
		}
		if !blockEqual(got, b) {
			t.Fatalf("round trip changed the block")
		}
		if !bytes.Equal(got.Encode(), enc) {
			t.Fatalf("re-encoding differs")
		}
		checkStrictPrefixesAndExtensions(t, enc, ledger.ErrBlockTooLarge, func(b []byte) error {
			_, err := ledger.DecodeBlock(b)
			return err
		})
	})
}

// TestCommitCertificateEncodingRoundTrip checks that
// DecodeCommitCertificate inverts Encode for 0..ValidatorsMax signatures
// and refuses truncations and extensions.
func TestCommitCertificateEncodingRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := genCert().Draw(t, "cert")
		enc := c.Encode()
		if len(enc) > ledger.CertificateBytesMax {
			t.Fatalf("certificate of %d signatures encodes to %d bytes, over %d", len(c.Signatures), len(enc), ledger.CertificateBytesMax)
		}
		got, err := ledger.DecodeCommitCertificate(enc)
		if err != nil {
			t.Fatalf("DecodeCommitCertificate: %v", err)
		}
		if got.Height != c.Height || got.View != c.View || got.BlockHash != c.BlockHash || len(got.Signatures) != len(c.Signatures) {
			t.Fatalf("round trip changed the certificate header")
		}
		for i := range c.Signatures {
			if got.Signatures[i] != c.Signatures[i] {
				t.Fatalf("signature %d changed", i)
			}
		}
		if !bytes.Equal(got.Encode(), enc) {
			t.Fatalf("re-encoding differs")
		}
		checkStrictPrefixesAndExtensions(t, enc, ledger.ErrMalformed, func(b []byte) error {
			_, err := ledger.DecodeCommitCertificate(b)
			return err
		})
	})
}

// TestAccountEncodingRoundTrip checks DecodeAccount∘EncodeAccount is the
// identity and that any other length is refused.
func TestAccountEncodingRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := genAccount().Draw(t, "account")
		enc := ledger.EncodeAccount(a)
		if len(enc) != ledger.AccountBytes {
			t.Fatalf("account encodes to %d bytes, want %d", len(enc), ledger.AccountBytes)
		}
		got, err := ledger.DecodeAccount(enc)
		if err != nil || got != a {
			t.Fatalf("DecodeAccount = %+v, %v; want %+v", got, err, a)
		}
		checkStrictPrefixesAndExtensions(t, enc, ledger.ErrMalformed, func(b []byte) error {
			_, err := ledger.DecodeAccount(b)
			return err
		})
	})
}

// TestLtHashEncodingRoundTrip checks that DecodeLtHash inverts Encode on
// accumulators built from random adds and removes, that the root is a
// function of the encoding, and that other lengths are refused.
func TestLtHashEncodingRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var h ledger.LtHash
		for _, leaf := range rapid.SliceOfN(genVarBytes(40), 0, 6).Draw(t, "adds") {
			h.Add(leaf)
		}
		for _, leaf := range rapid.SliceOfN(genVarBytes(40), 0, 2).Draw(t, "removes") {
			h.Remove(leaf)
		}
		enc := h.Encode()
		got, err := ledger.DecodeLtHash(enc)
		if err != nil {
			t.Fatalf("DecodeLtHash: %v", err)
		}
		if got != h || got.Root() != h.Root() || !bytes.Equal(got.Encode(), enc) {
			t.Fatalf("round trip changed the accumulator")
		}
		checkStrictPrefixesAndExtensions(t, enc, ledger.ErrMalformed, func(b []byte) error {
			_, err := ledger.DecodeLtHash(b)
			return err
		})
	})
}

// TestLtHashIsAMultisetHash checks the algebra the incremental state root
// rests on: adding leaves in any order gives one root, and Remove undoes
// Add, by shuffling rapid-generated leaves.
func TestLtHashIsAMultisetHash(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		leaves := rapid.SliceOfN(genVarBytes(36), 1, 8).Draw(t, "leaves")
		perm := rapid.Permutation(leaves).Draw(t, "perm")
		var a, b ledger.LtHash
		for _, l := range leaves {
			a.Add(l)
		}
		for _, l := range perm {
			b.Add(l)
		}
		if a.Root() != b.Root() {
			t.Fatalf("root depends on the order of additions")
		}
		extra := genVarBytes(36).Draw(t, "extra")
		b.Add(extra)
		if a.Root() == b.Root() {
			t.Fatalf("adding a leaf did not change the root")
		}
		b.Remove(extra)
		if a != b {
			t.Fatalf("Remove did not undo Add")
		}
	})
}
