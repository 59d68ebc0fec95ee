package rpc_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/synod-chain/synod/rpc"
)

var update = flag.Bool("update", false, "rewrite the responses of rpc/testdata/*.txt from the server's answers")

// transcript is one file of rpc/testdata: requests ("--> ") each followed
// by the expected response ("<-- "), or by no response line when none is
// due (notifications). "#" lines are comments. {{name}} in a request is
// replaced by transcriptVars()[name].
type transcript struct {
	lines []string
	steps []step
}

type step struct {
	request  string
	response string // "" when no response is expected
	respLine int    // index in lines of the response, -1 if none
	reqLine  int
}

func readTranscript(t *testing.T, path string, vars map[string]string) *transcript {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tr := &transcript{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		tr.lines = append(tr.lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for i, line := range tr.lines {
		switch {
		case strings.HasPrefix(line, "--> "):
			req := line[4:]
			for name, v := range vars {
				req = strings.ReplaceAll(req, "{{"+name+"}}", v)
			}
			if strings.Contains(req, "{{") {
				t.Fatalf("%s:%d: unknown variable in %q", path, i+1, req)
			}
			tr.steps = append(tr.steps, step{request: req, respLine: -1, reqLine: i})
		case strings.HasPrefix(line, "<-- "):
			if len(tr.steps) == 0 || tr.steps[len(tr.steps)-1].respLine != -1 {
				t.Fatalf("%s:%d: response without its request", path, i+1)
			}
			last := &tr.steps[len(tr.steps)-1]
			last.response, last.respLine = line[4:], i
		}
	}
	return tr
}

// rewrite writes the transcript back with the responses got.
func (tr *transcript) rewrite(t *testing.T, path string, got []string) {
	var out []string
	stepAt := make(map[int]int)
	for i, s := range tr.steps {
		stepAt[s.reqLine] = i
	}
	for i, line := range tr.lines {
		if strings.HasPrefix(line, "<-- ") {
			continue
		}
		out = append(out, line)
		if si, ok := stepAt[i]; ok && got[si] != "" {
			out = append(out, "<-- "+got[si])
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func compact(t *testing.T, s string) string {
	t.Helper()
	if s == "" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}

func TestTranscriptsHTTP(t *testing.T) {
	// Goal: every request/response pair in rpc/testdata holds over HTTP
	// POST, byte for byte after compaction; method: replay each file
	// against a fresh fixture chain.
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f := newChain(t)
			tr := readTranscript(t, path, transcriptVars(t, f))
			_, url := startServer(t, rpc.Config{}, f.backend)
			got := make([]string, len(tr.steps))
			for i, s := range tr.steps {
				status, body := post(t, url, s.request)
				if status == http.StatusNoContent {
					body = ""
				}
				got[i] = compact(t, body)
				if !*update && got[i] != compact(t, s.response) {
					t.Errorf("%s:%d: request %s\n got: %s\nwant: %s", path, s.reqLine+1, s.request, got[i], s.response)
				}
			}
			if *update {
				tr.rewrite(t, path, got)
			}
		})
	}
}

func TestTranscriptsWebSocket(t *testing.T) {
	// Goal: the same transcripts hold over WebSocket (one frame per
	// request), and a request with no response sends nothing; method:
	// replay each file on one connection, reading one message per expected
	// response, so a spurious reply would be read as the next one.
	if *update {
		t.Skip("responses are recorded over HTTP")
	}
	files, _ := filepath.Glob("testdata/*.txt")
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f := newChain(t)
			tr := readTranscript(t, path, transcriptVars(t, f))
			_, url := startServer(t, rpc.Config{}, f.backend)
			ws := dialWS(t, url)
			for _, s := range tr.steps {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if err := ws.Write(ctx, websocket.MessageText, []byte(s.request)); err != nil {
					cancel()
					t.Fatal(err)
				}
				if s.response == "" {
					cancel()
					continue
				}
				_, msg, err := ws.Read(ctx)
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				if got := compact(t, string(msg)); got != compact(t, s.response) {
					t.Errorf("%s:%d: request %s\n got: %s\nwant: %s", path, s.reqLine+1, s.request, got, s.response)
				}
			}
		})
	}
}

// dialWS opens a WebSocket to the server at base (http://host:port).
func dialWS(t *testing.T, base string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(16 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}
