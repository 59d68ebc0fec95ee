package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/rpctest"
)

// walletEnv is a keystore, a password file and a node (the rpctest
// backend behind a real rpc.Server on loopback) for the wallet commands.
type walletEnv struct {
	backend  *rpctest.Backend
	url      string
	keystore string
	password string
}

func newWalletEnv(t *testing.T) *walletEnv {
	t.Helper()
	b, err := rpctest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	b.AutoCommit = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(rpc.Config{}, b, nil)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	dir := t.TempDir()
	pw := filepath.Join(dir, "password.txt")
	if err := os.WriteFile(pw, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &walletEnv{backend: b, url: "http://" + l.Addr().String(), keystore: filepath.Join(dir, "keystore"), password: pw}
}

// run runs `synod wallet ARGS…` in-process with stdin and returns stdout
// and stderr apart.
func (e *walletEnv) run(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter, app.Reader = &out, &errOut, strings.NewReader(stdin)
	err := app.Run(append([]string{"synod", "wallet"}, args...))
	return out.String(), errOut.String(), err
}

func (e *walletEnv) must(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := e.run(t, stdin, args...)
	if err != nil {
		t.Fatalf("wallet %v: %v\nstdout: %s\nstderr: %s", args, err, out, errOut)
	}
	return out
}

func TestWalletNewListSendTx(t *testing.T) {
	// Goal: the wallet flow of the issue works end to end against a real
	// server — new, list, import a funded key, send with --wait, tx,
	// balance, export; method: run the commands through newApp with
	// captured output; the test backend commits each accepted tx.
	e := newWalletEnv(t)
	ks := []string{"--keystore", e.keystore, "--password-file", e.password, "--lightkdf"}

	fresh := strings.TrimSpace(e.must(t, "", append([]string{"new"}, ks...)...))
	if _, err := parseAddress(fresh, "new"); err != nil {
		t.Fatalf("new printed %q", fresh)
	}
	seed0 := "0x" + hex.EncodeToString(rpctest.Key(0).Seed())
	funded := strings.TrimSpace(e.must(t, seed0+"\n", append([]string{"import"}, ks...)...))
	if funded != rpctest.Address(0).String() {
		t.Fatalf("import printed %q, want %s", funded, rpctest.Address(0))
	}
	list := e.must(t, "", "list", "--keystore", e.keystore)
	if !strings.Contains(list, fresh) || !strings.Contains(list, funded) || strings.Count(list, "\n") != 2 {
		t.Fatalf("list:\n%s", list)
	}

	out := e.must(t, "", "send", "--keystore", e.keystore, "--password-file", e.password, "--rpc", e.url,
		"--from", funded, "--to", fresh, "--amount", "12345", "--fee", "5", "--memo", "rent", "--wait")
	if !strings.Contains(out, "committed at height 1 in block 0x") {
		t.Fatalf("send --wait:\n%s", out)
	}
	hash := strings.Fields(strings.TrimPrefix(out, "sent "))[0]

	txOut := e.must(t, "", "tx", hash, "--rpc", e.url)
	for _, want := range []string{"status  committed", "amount  12345", "fee     5", "nonce   0", `memo    "rent"`, "to      " + fresh} {
		if !strings.Contains(txOut, want) {
			t.Errorf("tx output lacks %q:\n%s", want, txOut)
		}
	}
	var tx rpc.Transaction
	if err := json.Unmarshal([]byte(e.must(t, "", "tx", hash, "--rpc", e.url, "--json")), &tx); err != nil || tx.Hash.String() != hash || uint64(tx.Amount) != 12345 {
		t.Fatalf("tx --json: %+v %v", tx, err)
	}
	if bal := e.must(t, "", "balance", fresh, "--rpc", e.url); !strings.Contains(bal, "balance  12345 (at latest)") {
		t.Errorf("balance:\n%s", bal)
	}
	if bal := e.must(t, "", "balance", fresh, "--rpc", e.url, "--at", "0"); !strings.Contains(bal, "balance  0 (at 0)") {
		t.Errorf("balance at 0:\n%s", bal)
	}

	// The next send picks nonce 1 from the node by itself; without --wait
	// it prints the hash at once.
	out = e.must(t, "", "send", "--keystore", e.keystore, "--password-file", e.password, "--rpc", e.url,
		"--from", funded, "--to", fresh, "--amount", "1")
	if !strings.Contains(out, "(nonce 1)") {
		t.Fatalf("second send:\n%s", out)
	}
	if st := e.must(t, "", "status", "--rpc", e.url); !strings.Contains(st, "height      2") {
		t.Errorf("status:\n%s", st)
	}
	if blk := e.must(t, "", "block", "1", "--rpc", e.url, "--full"); !strings.Contains(blk, hash) || !strings.Contains(blk, "commit     view 0, 3 signatures") {
		t.Errorf("block 1:\n%s", blk)
	}

	seedOut, warn, err := e.run(t, "", "export", "--keystore", e.keystore, "--password-file", e.password, funded)
	if err != nil || strings.TrimSpace(seedOut) != seed0 || !strings.Contains(warn, "WARNING") {
		t.Fatalf("export: %q %q %v", seedOut, warn, err)
	}
}

func TestWalletSendRejections(t *testing.T) {
	// Goal: a tx the node refuses fails with the node's reason and code;
	// method: a reused --nonce and an unaffordable amount.
	e := newWalletEnv(t)
	seed := "0x" + hex.EncodeToString(rpctest.Key(1).Seed())
	from := strings.TrimSpace(e.must(t, seed, "import", "--keystore", e.keystore, "--password-file", e.password, "--lightkdf"))
	send := func(extra ...string) error {
		args := append([]string{"send", "--keystore", e.keystore, "--password-file", e.password, "--rpc", e.url,
			"--from", from, "--to", rpctest.Address(0).String()}, extra...)
		_, _, err := e.run(t, "", args...)
		return err
	}
	if err := send("--amount", "1"); err != nil {
		t.Fatal(err)
	}
	if err := send("--amount", "2", "--nonce", "0"); err == nil || !strings.Contains(err.Error(), "nonce too low") || !strings.Contains(err.Error(), "code -32005") {
		t.Errorf("reused nonce: %v", err)
	}
	if err := send("--amount", "18000000000000000000"); err == nil || !strings.Contains(err.Error(), "code -32007") {
		t.Errorf("too poor: %v", err)
	}
}

func TestWalletFlagErrors(t *testing.T) {
	// Goal: bad flags, addresses, amounts and passwords are refused with
	// an error naming the problem, before any network or key work;
	// method: one defect per case.
	e := newWalletEnv(t)
	addr := rpctest.Address(0).String()
	wrongPw := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrongPw, []byte("nope\n"), 0o600)
	e.must(t, "0x"+hex.EncodeToString(rpctest.Key(0).Seed()), "import", "--keystore", e.keystore, "--password-file", e.password, "--lightkdf")
	base := []string{"send", "--keystore", e.keystore, "--password-file", e.password, "--rpc", e.url}
	cases := []struct {
		args []string
		want string
	}{
		{append(base, "--to", addr, "--amount", "1"), "--from is required"},
		{append(base, "--from", "0x12", "--to", addr, "--amount", "1"), `--from "0x12" is not an address`},
		{append(base, "--from", addr, "--to", strings.TrimPrefix(addr, "0x"), "--amount", "1"), "--to"},
		{append(base, "--from", addr, "--to", addr), "--amount is required"},
		{append(base, "--from", addr, "--to", addr, "--amount", "-5"), "--amount"},
		{append(base, "--from", addr, "--to", addr, "--amount", "1.5"), "--amount"},
		{append(base, "--from", addr, "--to", addr, "--amount", "18446744073709551616"), "does not fit in 64 bits"},
		{append(base, "--from", addr, "--to", addr, "--amount", "18446744073709551615", "--fee", "1"), "overflows"},
		{append(base, "--from", addr, "--to", addr, "--amount", "1", "--memo", strings.Repeat("m", 257)), "--memo is 257 bytes"},
		{append(base, "--from", addr, "--to", addr, "--amount", "1", "--nonce", "x"), "--nonce"},
		{append(base, "--from", rpctest.Address(2).String(), "--to", addr, "--amount", "1"), "no key for this address"},
		{[]string{"send", "--keystore", e.keystore, "--password-file", wrongPw, "--rpc", e.url, "--from", addr, "--to", addr, "--amount", "1"}, "wrong password"},
		{[]string{"send", "--keystore", e.keystore, "--password-file", e.password, "--rpc", "127.0.0.1:8545", "--from", addr, "--to", addr, "--amount", "1"}, "must be an http://"},
		{[]string{"balance", "--rpc", e.url}, "want exactly one argument"},
		{[]string{"balance", "nothex", "--rpc", e.url}, "is not an address"},
		{[]string{"balance", addr, "--rpc", e.url, "--at", "soon"}, `--at "soon"`},
		{[]string{"tx", "0x1234", "--rpc", e.url}, "is not a tx hash"},
		{[]string{"tx", "0x" + strings.Repeat("ab", 32), "--rpc", e.url}, "knows no such transaction"},
		{[]string{"block", "99", "--rpc", e.url}, "not committed yet"},
		{[]string{"import", "--keystore", e.keystore}, "must come from --password-file"},
		{[]string{"import", "--keystore", e.keystore, "--password-file", e.password}, "is not hex"},
		{[]string{"new", "--keystore", e.keystore}, "stdin is not a terminal"},
	}
	for _, tc := range cases {
		stdin := ""
		if tc.args[0] == "import" && len(tc.args) > 3 {
			stdin = "zz"
		}
		_, _, err := e.run(t, stdin, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
	// Importing the same key twice is refused by the keystore.
	if _, _, err := e.run(t, "0x"+hex.EncodeToString(rpctest.Key(0).Seed()), "import", "--keystore", e.keystore, "--password-file", e.password, "--lightkdf"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate import: %v", err)
	}
}

func TestReadRawKey(t *testing.T) {
	// Goal: import accepts a seed or a seed+public key and refuses a
	// mismatched public half or a wrong length; method: table.
	k := rpctest.Key(3)
	pub := k.Public()
	full := hex.EncodeToString(append(k.Seed(), pub[:]...))
	for _, in := range []string{hex.EncodeToString(k.Seed()), "0x" + full + "\n"} {
		got, err := readRawKey(strings.NewReader(in), "test")
		if err != nil || got.Public() != pub {
			t.Errorf("%q: %v", in, err)
		}
	}
	bad := []byte(full)
	bad[len(bad)-1] ^= 1
	for _, in := range []string{string(bad), "00", ""} {
		if _, err := readRawKey(strings.NewReader(in), "test"); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestWalletSendRefusesOversizedChainID(t *testing.T) {
	// Goal: a node that reports a chain id too long to sign for makes
	// send fail with an error, not crash the wallet; method: a fake node
	// whose synod_status says so.
	e := newWalletEnv(t)
	from := strings.TrimSpace(e.must(t, "0x"+hex.EncodeToString(rpctest.Key(0).Seed()),
		"import", "--keystore", e.keystore, "--password-file", e.password, "--lightkdf"))
	_, url := newFakeNode(t, rpc.NodeStatus{ChainID: strings.Repeat("c", 65)})
	_, _, err := e.run(t, "", "send", "--keystore", e.keystore, "--password-file", e.password, "--rpc", url,
		"--from", from, "--to", rpctest.Address(1).String(), "--amount", "1")
	if err == nil || !strings.Contains(err.Error(), "chain id too long") {
		t.Fatalf("send to a node with a 65-byte chain id: %v", err)
	}
}

func TestWalletSendWaitRefusesBadReceipt(t *testing.T) {
	// Goal: send --wait fails with an error, not a crash or a false
	// "committed", when the node's receipt lacks a height and block or
	// names another tx; method: a fake node that sends such receipts.
	e := newWalletEnv(t)
	from := strings.TrimSpace(e.must(t, "0x"+hex.EncodeToString(rpctest.Key(0).Seed()),
		"import", "--keystore", e.keystore, "--password-file", e.password, "--lightkdf"))
	// ed25519 signs deterministically, so this is the tx send will sign.
	tx := &ledger.Tx{ChainID: rpctest.ChainID, Nonce: 0, To: rpctest.Address(1), Amount: 1}
	tx.Sign(rpctest.Key(0))
	pending := rpc.NewPendingTransaction(tx)
	other := rpc.NewCommittedTransaction(tx, 7, 0, crypto.Hash{7})
	other.Hash = crypto.Hash{9}
	for _, tc := range []struct {
		name    string
		receipt *rpc.Transaction
		want    string
	}{
		{"pending", pending, "no height"},
		{"other tx", other, "answered with tx " + other.Hash.String()},
	} {
		node, url := newFakeNode(t, rpc.NodeStatus{ChainID: rpctest.ChainID})
		node.sentHash = tx.Hash().String()
		node.receipt, _ = json.Marshal(tc.receipt)
		_, _, err := e.run(t, "", "send", "--keystore", e.keystore, "--password-file", e.password, "--rpc", url,
			"--from", from, "--to", rpctest.Address(1).String(), "--amount", "1", "--wait", "--wait.timeout", "3s")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: send --wait: %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestWalletSendWithoutAVerdictIsNotARefusal(t *testing.T) {
	// Goal: when the submission gets no verdict on the tx, send does not
	// claim the node refused it, as it may be pending: the error names
	// the tx and says to check it before sending again, since a second
	// send would take the next nonce and pay twice. Method: fake nodes
	// that hang up on synod_sendRawTransaction, or answer it with an
	// internal error (the node failed to store the tx).
	for _, c := range []struct {
		name string
		set  func(*fakeNode)
	}{
		{"hangs up", func(n *fakeNode) { n.dropSend = true }},
		{"fails internally", func(n *fakeNode) {
			n.sendErr = &rpc.Error{Code: rpc.CodeInternal, Message: "internal error: the node failed to store the tx"}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newWalletEnv(t)
			from := strings.TrimSpace(e.must(t, "0x"+hex.EncodeToString(rpctest.Key(0).Seed()),
				"import", "--keystore", e.keystore, "--password-file", e.password, "--lightkdf"))
			tx := &ledger.Tx{ChainID: rpctest.ChainID, Nonce: 0, To: rpctest.Address(1), Amount: 1}
			tx.Sign(rpctest.Key(0))
			node, url := newFakeNode(t, rpc.NodeStatus{ChainID: rpctest.ChainID})
			c.set(node)
			_, _, err := e.run(t, "", "send", "--keystore", e.keystore, "--password-file", e.password, "--rpc", url,
				"--from", from, "--to", rpctest.Address(1).String(), "--amount", "1")
			if err == nil || strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "synod wallet tx "+tx.Hash().String()) {
				t.Fatalf("send to a node that %s: %v", c.name, err)
			}
		})
	}
}

func TestWalletSendRefusesAnotherChain(t *testing.T) {
	// Goal: with --chain-id, send signs nothing for a node on another
	// chain, and signs as before for a node on that chain; method: fake
	// nodes reporting each chain id.
	e := newWalletEnv(t)
	from := strings.TrimSpace(e.must(t, "0x"+hex.EncodeToString(rpctest.Key(0).Seed()),
		"import", "--keystore", e.keystore, "--password-file", e.password, "--lightkdf"))
	send := func(url, chainID string) error {
		_, _, err := e.run(t, "", "send", "--keystore", e.keystore, "--password-file", e.password, "--rpc", url,
			"--from", from, "--to", rpctest.Address(1).String(), "--amount", "1", "--nonce", "0", "--chain-id", chainID)
		return err
	}
	other, url := newFakeNode(t, rpc.NodeStatus{ChainID: "other-chain"})
	if err := send(url, "synod-main"); err == nil || !strings.Contains(err.Error(), `on chain "other-chain"`) {
		t.Fatalf("send for synod-main to a node on other-chain: %v", err)
	}
	select {
	case <-other.sent:
		t.Fatal("the node on another chain got the tx")
	default:
	}
	if err := send(url, "other-chain"); err != nil && strings.Contains(err.Error(), "--chain-id") {
		t.Fatalf("send for the node's own chain refused: %v", err)
	}
	select {
	case <-other.sent:
	default:
		t.Fatal("send for the node's own chain sent nothing")
	}
}

func TestWalletSendRefusesANonPositiveWaitTimeout(t *testing.T) {
	// Goal: `send --wait --wait.timeout 0s` (or negative) is refused
	// before anything is signed or sent; it used to submit the tx and
	// then fail at once waiting for it, a non-zero exit for a tx the
	// node had taken, which a retry would pay for twice. Method: the
	// sender's nonce is still 0 after the refusals.
	e := newWalletEnv(t)
	from := strings.TrimSpace(e.must(t, "0x"+hex.EncodeToString(rpctest.Key(0).Seed()), "import", "--keystore", e.keystore, "--password-file", e.password, "--lightkdf"))
	for _, timeout := range []string{"0s", "-1s"} {
		_, _, err := e.run(t, "", "send", "--keystore", e.keystore, "--password-file", e.password, "--rpc", e.url,
			"--from", from, "--to", rpctest.Address(1).String(), "--amount", "1", "--wait", "--wait.timeout", timeout)
		if err == nil || !strings.Contains(err.Error(), "--wait.timeout "+timeout) {
			t.Errorf("--wait.timeout %s: %v, want a refusal naming the flag", timeout, err)
		}
	}
	if bal := e.must(t, "", "balance", from, "--rpc", e.url); !strings.Contains(bal, "nonce    0 ") {
		t.Fatalf("a tx was sent:\n%s", bal)
	}
}
