package crypto

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// Keystore file format, version 1. A key file is one JSON object:
//
//	{
//	  "version": 1,
//	  "address": "0x…",            // in clear, for listing
//	  "publicKey": "0x…",          // in clear, for listing
//	  "kdf": {"name": "argon2id", "time": 3, "memoryKiB": 65536, "threads": 4},
//	  "cipher": "xchacha20-poly1305",
//	  "salt": "…",                 // hex, KeystoreSaltBytes
//	  "nonce": "…",                // hex, KeystoreNonceBytes
//	  "ciphertext": "…"            // hex, the 32-byte seed and a 16-byte tag
//	}
//
// The AEAD key is argon2id(password, salt, kdf). Every clear field is bound
// into the AEAD's associated data (see keystoreAssociatedData), so editing
// the address, the key, the KDF parameters or the salt makes decryption fail
// exactly as a wrong password does.
const (
	KeystoreVersion    = 1
	KeystoreBytesMax   = 64 << 10
	KeystoreSaltBytes  = 32
	KeystoreNonceBytes = chacha20poly1305.NonceSizeX
	KeystoreCipher     = "xchacha20-poly1305"
	KDFArgon2id        = "argon2id"

	keystoreCiphertextBytes = SeedBytes + chacha20poly1305.Overhead
	keystoreKeyBytes        = chacha20poly1305.KeySize
	keystoreADTag           = "synod/keystore/v1"
)

// Bounds on KDF parameters read from a file. They stop a crafted file from
// asking for terabytes of memory or an unbounded number of passes; a file
// inside them can still cost up to a few minutes of CPU, which is the price
// of opening a key file one did not write.
const (
	KDFTimeMax          = 64
	KDFMemoryKiBMax     = 4 << 20 // 4 GiB
	KDFThreadsMax       = 255
	kdfMemoryKiBPerLane = 8 // argon2's floor: 8 KiB per thread
)

// Keystore errors. Callers branch on ErrWrongPassword (ask again) and
// ErrKeyExists / ErrKeyNotFound; the rest say why a file is refused.
var (
	ErrWrongPassword       = errors.New("crypto: keystore: wrong password or tampered file")
	ErrKeystoreFormat      = errors.New("crypto: keystore: malformed file")
	ErrKeystoreVersion     = errors.New("crypto: keystore: unknown version")
	ErrKeystoreTooLarge    = errors.New("crypto: keystore: file too large")
	ErrKDFParams           = errors.New("crypto: keystore: KDF parameters out of bounds")
	ErrKeystoreKeyMismatch = errors.New("crypto: keystore: decrypted key does not match the recorded public key")
)

// KDFParams are the argon2id parameters a key file was encrypted with.
type KDFParams struct {
	Name      string `json:"name"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memoryKiB"`
	Threads   uint8  `json:"threads"`
}

// DefaultKDFParams are the parameters for real keys: argon2id with 3 passes
// over 64 MiB on 4 threads, the RFC 9106 "second recommended option" shape.
func DefaultKDFParams() KDFParams {
	return KDFParams{Name: KDFArgon2id, Time: 3, MemoryKiB: 64 << 10, Threads: 4}
}

// LightKDFParams are cheap parameters (one pass over 64 KiB) for tests and
// throwaway testnet keys. UNSAFE for real keys: a file encrypted with them
// falls to a password guessing attack at millions of guesses per second.
func LightKDFParams() KDFParams {
	return KDFParams{Name: KDFArgon2id, Time: 1, MemoryKiB: 64, Threads: 1}
}

// Validate reports whether p names a known KDF with parameters inside the
// bounds above.
func (p KDFParams) Validate() error {
	switch {
	case p.Name != KDFArgon2id:
		return fmt.Errorf("%w: unknown KDF %q", ErrKDFParams, p.Name)
	case p.Time < 1 || p.Time > KDFTimeMax:
		return fmt.Errorf("%w: time %d not in [1, %d]", ErrKDFParams, p.Time, KDFTimeMax)
	case p.Threads < 1:
		return fmt.Errorf("%w: threads %d not in [1, %d]", ErrKDFParams, p.Threads, KDFThreadsMax)
	case p.MemoryKiB < kdfMemoryKiBPerLane*uint32(p.Threads) || p.MemoryKiB > KDFMemoryKiBMax:
		return fmt.Errorf("%w: memory %d KiB not in [%d, %d] for %d threads",
			ErrKDFParams, p.MemoryKiB, kdfMemoryKiBPerLane*uint32(p.Threads), KDFMemoryKiBMax, p.Threads)
	}
	return nil
}

func (p KDFParams) deriveKey(password, salt []byte) []byte {
	return argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, keystoreKeyBytes)
}

// KeyInfo is what a key file says in clear: enough to list it without the
// password.
type KeyInfo struct {
	Version   uint32
	Address   Address
	PublicKey PublicKey
	KDF       KDFParams
}

// keystoreFile is the JSON shape of a key file.
type keystoreFile struct {
	Version    uint32    `json:"version"`
	Address    Address   `json:"address"`
	PublicKey  PublicKey `json:"publicKey"`
	KDF        KDFParams `json:"kdf"`
	Cipher     string    `json:"cipher"`
	Salt       hexBytes  `json:"salt"`
	Nonce      hexBytes  `json:"nonce"`
	Ciphertext hexBytes  `json:"ciphertext"`
}

// hexBytes is a byte string written as bare lower-case hex.
type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) {
	return []byte(hex.EncodeToString(h)), nil
}

func (h *hexBytes) UnmarshalText(text []byte) error {
	b := make([]byte, hex.DecodedLen(len(text)))
	if _, err := hex.Decode(b, text); err != nil {
		return fmt.Errorf("%w: %v", ErrBadHex, err)
	}
	*h = b
	return nil
}

// EncryptKey seals key under password and returns the key file's bytes.
// rand supplies the salt and nonce (crypto/rand.Reader in production).
func EncryptKey(key PrivateKey, password []byte, params KDFParams, rand io.Reader) ([]byte, error) {
	if key.IsZero() {
		return nil, errors.New("crypto: encrypt key: zero PrivateKey")
	}
	if err := params.Validate(); err != nil {
		return nil, fmt.Errorf("crypto: encrypt key: %w", err)
	}
	f := keystoreFile{
		Version:   KeystoreVersion,
		Address:   key.Public().Address(),
		PublicKey: key.Public(),
		KDF:       params,
		Cipher:    KeystoreCipher,
		Salt:      make([]byte, KeystoreSaltBytes),
		Nonce:     make([]byte, KeystoreNonceBytes),
	}
	if _, err := io.ReadFull(rand, f.Salt); err != nil {
		return nil, fmt.Errorf("crypto: encrypt key: read salt: %w", err)
	}
	if _, err := io.ReadFull(rand, f.Nonce); err != nil {
		return nil, fmt.Errorf("crypto: encrypt key: read nonce: %w", err)
	}
	aeadKey := params.deriveKey(password, f.Salt)
	defer clear(aeadKey)
	aead, err := chacha20poly1305.NewX(aeadKey)
	if err != nil {
		return nil, fmt.Errorf("crypto: encrypt key: %w", err)
	}
	seed := key.Seed()
	defer clear(seed)
	f.Ciphertext = aead.Seal(nil, f.Nonce, seed, keystoreAssociatedData(&f))
	data, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("crypto: encrypt key: encode: %w", err)
	}
	return append(data, '\n'), nil
}

// DecryptKey opens a key file with password. A wrong password, or any edit
// to the file's authenticated fields, gives ErrWrongPassword; a malformed
// or hostile file gives one of the other keystore errors, before any
// expensive key derivation is attempted.
func DecryptKey(data, password []byte) (PrivateKey, error) {
	f, err := decodeKeystore(data)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("crypto: decrypt key: %w", err)
	}
	aeadKey := f.KDF.deriveKey(password, f.Salt)
	defer clear(aeadKey)
	aead, err := chacha20poly1305.NewX(aeadKey)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("crypto: decrypt key: %w", err)
	}
	seed, err := aead.Open(nil, f.Nonce, f.Ciphertext, keystoreAssociatedData(f))
	if err != nil {
		return PrivateKey{}, fmt.Errorf("crypto: decrypt key %s: %w", f.Address, ErrWrongPassword)
	}
	defer clear(seed)
	key, err := PrivateKeyFromSeed(seed)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("crypto: decrypt key %s: %w", f.Address, err)
	}
	if key.Public() != f.PublicKey {
		return PrivateKey{}, fmt.Errorf("crypto: decrypt key %s: %w", f.Address, ErrKeystoreKeyMismatch)
	}
	return key, nil
}

// InspectKey checks a key file's structure and returns its clear fields,
// without the password and without running the KDF.
func InspectKey(data []byte) (KeyInfo, error) {
	f, err := decodeKeystore(data)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("crypto: inspect key: %w", err)
	}
	return KeyInfo{Version: f.Version, Address: f.Address, PublicKey: f.PublicKey, KDF: f.KDF}, nil
}

// decodeKeystore parses data and checks every field that can be checked
// without the password: size, version, shape, lengths, KDF bounds, and that
// the address belongs to the public key.
func decodeKeystore(data []byte) (*keystoreFile, error) {
	if len(data) > KeystoreBytesMax {
		return nil, fmt.Errorf("%w: %d bytes, max %d", ErrKeystoreTooLarge, len(data), KeystoreBytesMax)
	}
	// Read the version alone first, so a file from a future version is
	// reported as such rather than as a pile of unknown fields.
	var head struct {
		Version *uint32 `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeystoreFormat, err)
	}
	if head.Version == nil {
		return nil, fmt.Errorf("%w: no version", ErrKeystoreFormat)
	}
	if *head.Version != KeystoreVersion {
		return nil, fmt.Errorf("%w: %d, want %d", ErrKeystoreVersion, *head.Version, KeystoreVersion)
	}
	var f keystoreFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeystoreFormat, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrKeystoreFormat)
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return &f, nil
}

func (f *keystoreFile) check() error {
	// A missing "publicKey" leaves the zero key, which is a small-order
	// point; validate here rather than trust UnmarshalText to have run.
	if err := ValidatePublicKey(f.PublicKey); err != nil {
		return fmt.Errorf("%w: public key: %w", ErrKeystoreFormat, err)
	}
	if f.Address != AddressOf(f.PublicKey) {
		return fmt.Errorf("%w: address %s is not the address of public key %s", ErrKeystoreFormat, f.Address, f.PublicKey)
	}
	if err := f.KDF.Validate(); err != nil {
		return err
	}
	if f.Cipher != KeystoreCipher {
		return fmt.Errorf("%w: unknown cipher %q", ErrKeystoreFormat, f.Cipher)
	}
	if len(f.Salt) != KeystoreSaltBytes {
		return fmt.Errorf("%w: salt is %d bytes, want %d", ErrKeystoreFormat, len(f.Salt), KeystoreSaltBytes)
	}
	if len(f.Nonce) != KeystoreNonceBytes {
		return fmt.Errorf("%w: nonce is %d bytes, want %d", ErrKeystoreFormat, len(f.Nonce), KeystoreNonceBytes)
	}
	if len(f.Ciphertext) != keystoreCiphertextBytes {
		return fmt.Errorf("%w: ciphertext is %d bytes, want %d", ErrKeystoreFormat, len(f.Ciphertext), keystoreCiphertextBytes)
	}
	return nil
}

// keystoreAssociatedData is the AEAD's associated data: a domain tag and
// every clear field of the file in a fixed binary layout. JSON is not used
// here because two JSON texts can mean the same thing.
func keystoreAssociatedData(f *keystoreFile) []byte {
	ad := make([]byte, 0, 160)
	ad = append(ad, keystoreADTag...)
	ad = append(ad, 0)
	ad = binary.BigEndian.AppendUint32(ad, f.Version)
	ad = append(ad, f.Address[:]...)
	ad = append(ad, f.PublicKey[:]...)
	ad = append(ad, byte(len(f.KDF.Name)))
	ad = append(ad, f.KDF.Name...)
	ad = binary.BigEndian.AppendUint32(ad, f.KDF.Time)
	ad = binary.BigEndian.AppendUint32(ad, f.KDF.MemoryKiB)
	ad = append(ad, f.KDF.Threads)
	ad = append(ad, byte(len(f.Cipher)))
	ad = append(ad, f.Cipher...)
	ad = append(ad, byte(len(f.Salt)))
	return append(ad, f.Salt...)
}
