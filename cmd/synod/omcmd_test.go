package main

import (
	"bytes"
	"strings"
	"testing"
)

// runSynod runs the CLI in-process and returns what it printed.
func runSynod(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := newApp()
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, &out
	err := app.Run(append([]string{"synod"}, args...))
	return out.String(), err
}

func TestOMSimulateShowsTheBound(t *testing.T) {
	// Goal: the simulator puts the paper's bound on screen — n=3, m=1 with a
	// lying lieutenant violates IC2, n=4, m=1 with the same traitor does
	// not; method: run the command twice and read its output.
	out, err := runSynod(t, "om", "simulate", "--n", "3", "--m", "1", "--traitors", "2", "--strategy", "lie")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"n > 3m fails", "lieutenant 1 decides RETREAT", "IC2 (a loyal commander's value is kept): VIOLATED", "messages: 4 sent"} {
		if !strings.Contains(out, want) {
			t.Errorf("n=3 output lacks %q:\n%s", want, out)
		}
	}
	out, err = runSynod(t, "om", "simulate", "--n", "4", "--m", "1", "--traitors", "2", "--strategy", "lie", "--value", "abcd")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lieutenant 1 decides abcd", "lieutenant 3 decides abcd", "IC1 (loyal nodes agree): holds", "kept): holds", "messages: 9 sent"} {
		if !strings.Contains(out, want) {
			t.Errorf("n=4 output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "lieutenant 2") {
		t.Errorf("the traitor's decision was reported:\n%s", out)
	}
}

func TestOMSimulateInteractiveAndTrace(t *testing.T) {
	// Goal: --interactive prints one vector per loyal node and the n-fold
	// message count, --trace every message, and a seed replays exactly;
	// method: run n=4 m=1 with a colluding commander twice and compare.
	args := []string{"om", "simulate", "--n", "4", "--m", "1", "--commander-traitor", "--strategy", "collude", "--seed", "7", "--interactive", "--trace"}
	out, err := runSynod(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out, "vector ["); got != 3 {
		t.Errorf("%d vectors, want 3:\n%s", got, out)
	}
	if got := strings.Count(out, "  round "); got != 36 {
		t.Errorf("%d traced messages, want 36", got)
	}
	if !strings.Contains(out, "messages: 36 sent") || !strings.Contains(out, "IC1 (loyal nodes agree): holds") {
		t.Errorf("unexpected output:\n%s", out)
	}
	again, _ := runSynod(t, args...)
	if again != out {
		t.Errorf("same seed printed two different runs")
	}
}

func TestOMSimulateValidatesFlags(t *testing.T) {
	// Goal: bad flags are refused with an error naming the flag; method: one
	// defect per case through the real command.
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--n", "0"}, "--n must be in 1..64"},
		{[]string{"--n", "65"}, "--n must be in 1..64"},
		{[]string{"--m", "-1"}, "--m must be in 0..n-1"},
		{[]string{"--n", "4", "--m", "4"}, "--m must be in 0..n-1"},
		{[]string{"--traitors", "1,x"}, `"x" is not a node id`},
		{[]string{"--traitors", "4"}, "id 4 out of range 1..3"},
		{[]string{"--traitors", "-2"}, "id -2 out of range"},
		{[]string{"--traitors", "2,1,2"}, "id 2 listed twice"},
		{[]string{"--traitors", "0"}, "use --commander-traitor"},
		{[]string{"--strategy", "bribe"}, "--strategy must be one of"},
		{[]string{"--value", "xyz"}, "--value must be hex"},
		{[]string{"--value", strings.Repeat("00", 65)}, "--value is 65 bytes"},
		{[]string{"--n", "16", "--m", "5"}, "exceeds TreeNodesMax"},
	}
	for _, tc := range cases {
		_, err := runSynod(t, append([]string{"om", "simulate"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}

func TestOMSimulateFlagsReachTheRun(t *testing.T) {
	// Goal: --commander-traitor, --seed and a traitor count above m change
	// what runs and what the header promises; method: run the command with
	// each and read the header, the decisions and the transcript digest.
	out, err := runSynod(t, "om", "simulate", "--n", "4", "--m", "1", "--commander-traitor", "--strategy", "split")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"commander 0 (traitor)", "traitors [0] ", "lieutenant 1 decides", "lieutenant 2 decides", "lieutenant 3 decides", "IC1 (loyal nodes agree): holds"} {
		if !strings.Contains(out, want) {
			t.Errorf("--commander-traitor output lacks %q:\n%s", want, out)
		}
	}
	out, err = runSynod(t, "om", "simulate", "--n", "7", "--m", "1", "--traitors", "2,5")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "2 traitors > m=1: the paper promises nothing here") {
		t.Errorf("more traitors than m, yet the header promises:\n%s", out)
	}
	transcript := func(seed string) string {
		out, err := runSynod(t, "om", "simulate", "--n", "7", "--m", "2", "--traitors", "3", "--strategy", "random", "--seed", seed)
		if err != nil {
			t.Fatal(err)
		}
		_, digest, _ := strings.Cut(out, "transcript: ")
		return digest
	}
	if one, two := transcript("1"), transcript("2"); one == "" || one == two {
		t.Errorf("seeds 1 and 2 printed the same transcript %q", one)
	}
}
