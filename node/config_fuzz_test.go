package node

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseConfig feeds config.toml arbitrary contents, as an operator's
// typo or a damaged file would: parsing never panics, and whatever it
// accepts is a valid config that WriteConfig writes back to a file that
// reads as the same config (tools rewrite configs: synod init, the
// testnet generator).
//
//	go test ./node -run '^$' -fuzz FuzzParseConfig -fuzztime 60s
func FuzzParseConfig(f *testing.F) {
	home := f.TempDir()
	cfg := DefaultConfig("seed")
	cfg.P2P.PersistentPeers = []string{"/ip4/127.0.0.1/tcp/1/p2p/12D3KooWBbAo6NkGA1TxHxDeQPFinLR9pVKqENKoRGW9famPqHDa"}
	cfg.Testing.Byzantine = "silent"
	if err := WriteConfig(home, cfg); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(filepath.Join(home, ConfigFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`moniker = "a\"b"` + "\n[rpc]\ncors_origins = [\"*\"]\n"))
	f.Add([]byte("moniker = 'lit'\n[mempool]\ntxs_max = 1\nper_sender_txs_max = 4096\n"))
	f.Add([]byte("[store]\nmemtable_mib = 99\n"))
	f.Add([]byte("moniker = \"\\u00e9\"\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, err := parseConfig(raw, "fuzz.toml")
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted a config its own check refuses: %v", err)
		}
		home := t.TempDir()
		if err := WriteConfig(home, cfg); err != nil {
			t.Fatalf("accepted config cannot be written back: %v\n%+v", err, cfg)
		}
		back, err := LoadConfig(home)
		if err != nil {
			written, _ := os.ReadFile(filepath.Join(home, ConfigFile))
			t.Fatalf("accepted config written back does not load: %v\n%s", err, written)
		}
		// %+v prints nil and empty lists alike, which the file cannot tell
		// apart either.
		if got, want := fmt.Sprintf("%+v", back), fmt.Sprintf("%+v", cfg); got != want {
			t.Fatalf("config changed on the way through its file:\nread  %s\nwrote %s", got, want)
		}
	})
}
