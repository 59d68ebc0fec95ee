package crypto

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

var testPassword = []byte("correct horse battery staple")

// encryptTestKey encrypts key i with the light parameters.
func encryptTestKey(t *testing.T, i byte) (PrivateKey, []byte) {
	t.Helper()
	k := testKey(t, i)
	data, err := EncryptKey(k, testPassword, LightKDFParams(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k, data
}

// editKeyFile decodes a key file as generic JSON, lets edit change it, and
// re-encodes it.
func editKeyFile(t *testing.T, data []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKeystoreRoundTrip checks that a key encrypted and decrypted with the
// same password is the same key, and that the clear fields say which.
func TestKeystoreRoundTrip(t *testing.T) {
	k, data := encryptTestKey(t, 1)
	got, err := DecryptKey(data, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if got.Public() != k.Public() || !bytes.Equal(got.Seed(), k.Seed()) {
		t.Fatal("decrypted a different key")
	}
	info, err := InspectKey(data)
	if err != nil {
		t.Fatal(err)
	}
	want := KeyInfo{Version: KeystoreVersion, Address: k.Public().Address(), PublicKey: k.Public(), KDF: LightKDFParams()}
	if info != want {
		t.Fatalf("InspectKey = %+v, want %+v", info, want)
	}
	if bytes.Contains(data, []byte(hex.EncodeToString(k.Seed()))) {
		t.Fatal("the seed appears in clear in the file")
	}
	// Two encryptions of one key differ (fresh salt and nonce).
	_, data2 := encryptTestKey(t, 1)
	if bytes.Equal(data, data2) {
		t.Fatal("two encryptions produced the same file")
	}
}

// TestKeystoreEmptyPassword checks that the empty password is a password
// like any other: it round trips and is not confused with another.
func TestKeystoreEmptyPassword(t *testing.T) {
	k := testKey(t, 2)
	data, err := EncryptKey(k, nil, LightKDFParams(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecryptKey(data, []byte{}); err != nil || got.Public() != k.Public() {
		t.Fatalf("empty password: %v", err)
	}
	if _, err := DecryptKey(data, []byte(" ")); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("err = %v, want ErrWrongPassword", err)
	}
}

// TestKeystoreWrongPassword checks that near-miss passwords are refused
// with the sentinel, not a garbage key.
func TestKeystoreWrongPassword(t *testing.T) {
	_, data := encryptTestKey(t, 1)
	for _, pw := range []string{"", "correct horse battery stapl", "Correct horse battery staple", "correct horse battery staple "} {
		k, err := DecryptKey(data, []byte(pw))
		if !errors.Is(err, ErrWrongPassword) {
			t.Errorf("password %q: err = %v, want ErrWrongPassword", pw, err)
		}
		if !k.IsZero() {
			t.Errorf("password %q: returned a key", pw)
		}
	}
}

// TestKeystoreTamperDetected checks that editing any authenticated field of
// a well-formed file makes decryption fail. The address/key swap is the
// case only the associated data catches: the ciphertext and KDF inputs are
// untouched, so without it decryption would succeed.
func TestKeystoreTamperDetected(t *testing.T) {
	_, data := encryptTestKey(t, 1)
	other := testKey(t, 2).Public()
	flipHex := func(field string) func(m map[string]any) {
		return func(m map[string]any) {
			s := []byte(m[field].(string))
			if s[3] == '0' {
				s[3] = '1'
			} else {
				s[3] = '0'
			}
			m[field] = string(s)
		}
	}
	cases := map[string]func(m map[string]any){
		"ciphertext": flipHex("ciphertext"),
		"salt":       flipHex("salt"),
		"nonce":      flipHex("nonce"),
		"address and public key": func(m map[string]any) {
			m["address"] = other.Address().String()
			m["publicKey"] = other.String()
		},
		"kdf time":    func(m map[string]any) { m["kdf"].(map[string]any)["time"] = 2 },
		"kdf memory":  func(m map[string]any) { m["kdf"].(map[string]any)["memoryKiB"] = 72 },
		"kdf threads": func(m map[string]any) { m["kdf"].(map[string]any)["threads"] = 2 },
	}
	for name, edit := range cases {
		bad := editKeyFile(t, data, edit)
		if _, err := DecryptKey(bad, testPassword); !errors.Is(err, ErrWrongPassword) {
			t.Errorf("%s: err = %v, want ErrWrongPassword", name, err)
		}
	}
}

// TestKeystoreKeyMismatch checks the check after decryption: a file whose
// authenticated header names key A but whose sealed seed is key B's (made
// by someone holding the password) is refused.
func TestKeystoreKeyMismatch(t *testing.T) {
	a, b := testKey(t, 1), testKey(t, 2)
	params := LightKDFParams()
	f := keystoreFile{
		Version: KeystoreVersion, Address: a.Public().Address(), PublicKey: a.Public(),
		KDF: params, Cipher: KeystoreCipher,
		Salt: make([]byte, KeystoreSaltBytes), Nonce: make([]byte, KeystoreNonceBytes),
	}
	aead, err := chacha20poly1305.NewX(params.deriveKey(testPassword, f.Salt))
	if err != nil {
		t.Fatal(err)
	}
	f.Ciphertext = aead.Seal(nil, f.Nonce, b.Seed(), keystoreAssociatedData(&f))
	data, err := json.Marshal(&f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecryptKey(data, testPassword); !errors.Is(err, ErrKeystoreKeyMismatch) {
		t.Fatalf("err = %v, want ErrKeystoreKeyMismatch", err)
	}
}

// TestKeystoreHostileFiles checks that malformed and hostile files are
// refused with the right sentinel before any key derivation; the absurd
// KDF parameters would take terabytes or hours if they were honoured.
func TestKeystoreHostileFiles(t *testing.T) {
	_, data := encryptTestKey(t, 1)
	set := func(path ...string) func(v any) func(m map[string]any) {
		return func(v any) func(m map[string]any) {
			return func(m map[string]any) {
				for _, p := range path[:len(path)-1] {
					m = m[p].(map[string]any)
				}
				if v == nil {
					delete(m, path[len(path)-1])
					return
				}
				m[path[len(path)-1]] = v
			}
		}
	}
	kdf := func(field string) func(v any) func(m map[string]any) { return set("kdf", field) }
	cases := []struct {
		name string
		edit func(m map[string]any)
		want error
	}{
		{"version 2", set("version")(2), ErrKeystoreVersion},
		{"version 0", set("version")(0), ErrKeystoreVersion},
		{"no version", set("version")(nil), ErrKeystoreFormat},
		{"version string", set("version")("1"), ErrKeystoreFormat},
		{"memory 4 TiB", kdf("memoryKiB")(uint32(1<<32 - 1)), ErrKDFParams},
		{"memory just over 4 GiB", kdf("memoryKiB")(KDFMemoryKiBMax + 1), ErrKDFParams},
		{"memory below 8 KiB per thread", kdf("memoryKiB")(7), ErrKDFParams},
		{"memory overflow", kdf("memoryKiB")(uint64(1) << 40), ErrKeystoreFormat},
		{"time 0", kdf("time")(0), ErrKDFParams},
		{"time huge", kdf("time")(uint32(1 << 31)), ErrKDFParams},
		{"time just over", kdf("time")(KDFTimeMax + 1), ErrKDFParams},
		{"threads 0", kdf("threads")(0), ErrKDFParams},
		{"threads 256", kdf("threads")(256), ErrKeystoreFormat},
		{"threads negative", kdf("threads")(-1), ErrKeystoreFormat},
		{"unknown kdf", kdf("name")("scrypt"), ErrKDFParams},
		{"no kdf", set("kdf")(nil), ErrKDFParams},
		{"unknown cipher", set("cipher")("aes-gcm"), ErrKeystoreFormat},
		{"short salt", set("salt")(strings.Repeat("00", KeystoreSaltBytes-1)), ErrKeystoreFormat},
		{"long nonce", set("nonce")(strings.Repeat("00", KeystoreNonceBytes+1)), ErrKeystoreFormat},
		{"short ciphertext", set("ciphertext")(strings.Repeat("00", 47)), ErrKeystoreFormat},
		{"empty ciphertext", set("ciphertext")(""), ErrKeystoreFormat},
		{"bad hex", set("nonce")(strings.Repeat("zz", KeystoreNonceBytes)), ErrKeystoreFormat},
		{"odd hex", set("salt")("abc"), ErrKeystoreFormat},
		{"no public key", set("publicKey")(nil), ErrKeystoreFormat},
		{"small-order public key", set("publicKey")("0x" + smallOrderKeys[4]), ErrKeystoreFormat},
		{"address of another key", set("address")(testKey(t, 9).Public().Address().String()), ErrKeystoreFormat},
		{"unknown field", set("extra")(true), ErrKeystoreFormat},
	}
	for _, c := range cases {
		bad := editKeyFile(t, data, c.edit)
		_, err := DecryptKey(bad, testPassword)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if _, ierr := InspectKey(bad); !errors.Is(ierr, c.want) {
			t.Errorf("%s: InspectKey err = %v, want %v", c.name, ierr, c.want)
		}
	}
	for name, bad := range map[string]string{
		"empty": "", "null": "null", "array": "[1]", "string": `"x"`,
		"trailing object": string(data) + "{}", "trailing junk": string(data) + "x",
	} {
		if _, err := DecryptKey([]byte(bad), testPassword); !errors.Is(err, ErrKeystoreFormat) {
			t.Errorf("%s: err = %v, want ErrKeystoreFormat", name, err)
		}
	}
	// Whitespace after the object is fine: editors add newlines.
	if _, err := DecryptKey(append(bytes.Clone(data), " \n\t"...), testPassword); err != nil {
		t.Errorf("trailing whitespace: %v", err)
	}
}

// TestKeystoreTruncatedAndOversized checks every strict prefix of a valid
// file, and a file just over KeystoreBytesMax, for a clean error.
func TestKeystoreTruncatedAndOversized(t *testing.T) {
	_, data := encryptTestKey(t, 1)
	trimmed := bytes.TrimSpace(data)
	for n := range len(trimmed) {
		if _, err := DecryptKey(trimmed[:n], testPassword); err == nil {
			t.Fatalf("prefix of %d bytes decrypted", n)
		}
	}
	big := append(bytes.Clone(trimmed), bytes.Repeat([]byte(" "), KeystoreBytesMax)...)
	if _, err := DecryptKey(big, testPassword); !errors.Is(err, ErrKeystoreTooLarge) {
		t.Fatalf("oversized: err = %v, want ErrKeystoreTooLarge", err)
	}
	if _, err := DecryptKey(big[:KeystoreBytesMax], testPassword); err != nil {
		t.Fatalf("exactly KeystoreBytesMax (valid JSON, padded): %v", err)
	}
}

// TestKDFParamsValidate checks the documented parameter sets and the edges
// of every bound.
func TestKDFParamsValidate(t *testing.T) {
	def := DefaultKDFParams()
	if def != (KDFParams{Name: KDFArgon2id, Time: 3, MemoryKiB: 64 << 10, Threads: 4}) {
		t.Fatalf("DefaultKDFParams = %+v", def)
	}
	for _, p := range []KDFParams{def, LightKDFParams(),
		{Name: KDFArgon2id, Time: KDFTimeMax, MemoryKiB: KDFMemoryKiBMax, Threads: KDFThreadsMax},
		{Name: KDFArgon2id, Time: 1, MemoryKiB: 8 * 255, Threads: 255},
	} {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	for _, p := range []KDFParams{
		{},
		{Name: "Argon2id", Time: 1, MemoryKiB: 64, Threads: 1},
		{Name: KDFArgon2id, Time: 0, MemoryKiB: 64, Threads: 1},
		{Name: KDFArgon2id, Time: KDFTimeMax + 1, MemoryKiB: 64, Threads: 1},
		{Name: KDFArgon2id, Time: 1, MemoryKiB: 64, Threads: 0},
		{Name: KDFArgon2id, Time: 1, MemoryKiB: 8*255 - 1, Threads: 255},
		{Name: KDFArgon2id, Time: 1, MemoryKiB: KDFMemoryKiBMax + 1, Threads: 1},
	} {
		if err := p.Validate(); !errors.Is(err, ErrKDFParams) {
			t.Errorf("%+v: err = %v, want ErrKDFParams", p, err)
		}
	}
}

// TestEncryptKeyRefuses checks EncryptKey's own input checks: no zero key,
// no out-of-bounds parameters, and a failing random source is an error
// rather than a zero salt or nonce.
func TestEncryptKeyRefuses(t *testing.T) {
	k := testKey(t, 1)
	if _, err := EncryptKey(PrivateKey{}, testPassword, LightKDFParams(), rand.Reader); err == nil {
		t.Error("zero key encrypted")
	}
	if _, err := EncryptKey(k, testPassword, KDFParams{Name: KDFArgon2id}, rand.Reader); !errors.Is(err, ErrKDFParams) {
		t.Errorf("bad params: err = %v", err)
	}
	for _, n := range []int{0, KeystoreSaltBytes, KeystoreSaltBytes + KeystoreNonceBytes - 1} {
		if _, err := EncryptKey(k, testPassword, LightKDFParams(), bytes.NewReader(make([]byte, n))); err == nil {
			t.Errorf("random source with %d bytes: no error", n)
		}
	}
}

// TestKeystoreGoldenFile pins format version 1: a file written by an
// earlier build must still decrypt, and encrypting the same key with the
// same salt and nonce must reproduce it byte for byte, so any change to
// the encoding, the associated data or the KDF use shows up here.
func TestKeystoreGoldenFile(t *testing.T) {
	golden, err := ReadKeyFile("testdata/keystore_v1.json")
	if err != nil {
		t.Fatal(err)
	}
	want := testKey(t, 42)
	got, err := DecryptKey(golden, []byte("synod-golden"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Public() != want.Public() {
		t.Fatal("golden file decrypts to another key")
	}
	fixed := bytes.NewReader(bytes.Repeat([]byte{0xa5}, KeystoreSaltBytes+KeystoreNonceBytes))
	again, err := EncryptKey(want, []byte("synod-golden"), LightKDFParams(), fixed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, golden) {
		t.Fatalf("encoding changed:\n%s\nwant:\n%s", again, golden)
	}
}
