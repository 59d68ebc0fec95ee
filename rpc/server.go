package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/net/netutil"
)

// DefaultAddr is where the API listens unless configured: loopback only,
// so a node is not a public endpoint by accident.
const DefaultAddr = "127.0.0.1:8545"

// Config holds the server's limits and options. Zero fields take the
// values of DefaultConfig.
type Config struct {
	// Addr is the listen address of ListenAndServe.
	Addr string
	// RequestBytesMax bounds an HTTP body and a WebSocket message.
	RequestBytesMax int64
	// BatchItemsMax bounds the requests of one batch.
	BatchItemsMax int
	// BatchResponseBytesMax bounds the responses of one batch: once they
	// add up to this, the calls not yet run are answered with
	// CodeResponseTooLarge instead (a hundred full blocks would otherwise
	// be hundreds of MiB held for one small request).
	BatchResponseBytesMax int64
	// ConnectionsMax bounds the connections served at once, HTTP and
	// WebSocket together: each may hold a request body of up to
	// RequestBytesMax, so without a bound the number of clients would
	// bound the memory. Past it, new connections wait in the kernel's
	// accept queue until one closes. It must exceed WSConnectionsMax.
	ConnectionsMax int
	// WSConnectionsMax bounds concurrent WebSocket connections.
	WSConnectionsMax int
	// SubscriptionsPerConnMax bounds the subscriptions of one WebSocket
	// connection.
	SubscriptionsPerConnMax int
	// WSQueueMessagesMax bounds the replies and notifications waiting to
	// be written to one WebSocket connection; a connection whose queue is
	// full when a notification comes is dropped as too slow.
	WSQueueMessagesMax int
	// WSReplyBytesMax bounds the bytes of replies waiting to be written to
	// one WebSocket connection: while more wait, the connection's next
	// request is not read, so a peer that sends requests and does not read
	// the replies holds at most this plus one reply.
	WSReplyBytesMax int64
	// ReadHeaderTimeout bounds the time to send request headers
	// (slowloris); ReadTimeout the whole request with its body;
	// WriteTimeout the response, and each WebSocket write; IdleTimeout a
	// keep-alive connection between requests.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// WSPingInterval is how often an idle WebSocket peer is pinged; one
	// that does not answer within WriteTimeout is disconnected.
	WSPingInterval time.Duration
	// HeaderBytesMax bounds the request headers.
	HeaderBytesMax int
	// CORSOrigins are the origins browsers may call the API from ("*" for
	// any). Empty means no CORS headers, and WebSocket connections only
	// from pages of the API's own host.
	CORSOrigins []string
	// Metrics, if set, is served on /metrics (the node's Prometheus
	// handler); the API itself never serves metrics.
	Metrics http.Handler
}

// DefaultConfig returns the default limits.
func DefaultConfig() Config {
	return Config{
		Addr:                    DefaultAddr,
		RequestBytesMax:         1 << 20,
		BatchItemsMax:           100,
		BatchResponseBytesMax:   16 << 20,
		ConnectionsMax:          1024,
		WSConnectionsMax:        256,
		SubscriptionsPerConnMax: 64,
		WSQueueMessagesMax:      256,
		WSReplyBytesMax:         4 << 20,
		ReadHeaderTimeout:       5 * time.Second,
		ReadTimeout:             30 * time.Second,
		WriteTimeout:            30 * time.Second,
		IdleTimeout:             120 * time.Second,
		WSPingInterval:          30 * time.Second,
		HeaderBytesMax:          64 << 10,
	}
}

// withDefaults fills every zero field from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Addr == "" {
		c.Addr = d.Addr
	}
	setDefault(&c.RequestBytesMax, d.RequestBytesMax)
	setDefault(&c.BatchItemsMax, d.BatchItemsMax)
	setDefault(&c.BatchResponseBytesMax, d.BatchResponseBytesMax)
	setDefault(&c.ConnectionsMax, d.ConnectionsMax)
	setDefault(&c.WSConnectionsMax, d.WSConnectionsMax)
	setDefault(&c.SubscriptionsPerConnMax, d.SubscriptionsPerConnMax)
	setDefault(&c.WSQueueMessagesMax, d.WSQueueMessagesMax)
	setDefault(&c.WSReplyBytesMax, d.WSReplyBytesMax)
	setDefault(&c.ReadHeaderTimeout, d.ReadHeaderTimeout)
	setDefault(&c.ReadTimeout, d.ReadTimeout)
	setDefault(&c.WriteTimeout, d.WriteTimeout)
	setDefault(&c.IdleTimeout, d.IdleTimeout)
	setDefault(&c.WSPingInterval, d.WSPingInterval)
	setDefault(&c.HeaderBytesMax, d.HeaderBytesMax)
	return c
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Server serves the API over HTTP and WebSocket.
type Server struct {
	cfg     Config
	backend Backend
	log     *slog.Logger
	disp    *dispatcher
	hub     *blockHub
	handler http.Handler

	wsSlots chan struct{} // one token per open WebSocket connection

	mu       sync.Mutex
	httpSrv  *http.Server
	conns    map[*wsConn]struct{}
	closing  bool
	connsWG  sync.WaitGroup
	shutOnce sync.Once
}

// NewServer builds a server for backend. logger may be nil.
func NewServer(cfg Config, backend Backend, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		backend: backend,
		log:     logger.With("component", "rpc"),
		wsSlots: make(chan struct{}, cfg.WSConnectionsMax),
		conns:   make(map[*wsConn]struct{}),
	}
	s.hub = newBlockHub(backend, s.log)
	api := &synodAPI{b: backend, hub: s.hub, cfg: cfg}
	methods := registry{}
	methods.register(Namespace, api.methods())
	batched := map[string]BatchMethod{}
	for name, m := range api.batchMethods() {
		batched[Namespace+"_"+name] = m
	}
	s.disp = &dispatcher{methods: methods, batched: batched, batchMax: cfg.BatchItemsMax,
		batchResponseMax: cfg.BatchResponseBytesMax, log: s.log}

	mux := http.NewServeMux()
	mux.HandleFunc("/", s.serveRPC)
	mux.HandleFunc("/ws", s.serveWS)
	mux.HandleFunc("/health", s.serveHealth)
	if cfg.Metrics != nil {
		mux.Handle("/metrics", cfg.Metrics)
	}
	s.handler = mux
	return s
}

// Config returns the server's configuration with defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Methods returns the names of the registered methods, sorted.
func (s *Server) Methods() []string {
	names := make([]string, 0, len(s.disp.methods))
	for name := range s.disp.methods {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Subscriptions returns the numbers of live newBlocks and tx
// subscriptions over all connections.
func (s *Server) Subscriptions() (blocks, txs int) { return s.hub.counts() }

// Handler returns the HTTP handler: the API on "/", WebSocket on "/ws",
// "/health" and, if configured, "/metrics". A caller that serves it on
// its own http.Server must set that server's timeouts itself and still
// call Shutdown to end WebSocket connections.
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe listens on Config.Addr and serves until Shutdown.
func (s *Server) ListenAndServe() error {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("rpc: listen %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(l)
}

// Serve serves on l until Shutdown, with the configured timeouts. It
// returns nil after Shutdown.
func (s *Server) Serve(l net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.HeaderBytesMax,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.httpSrv = srv
	s.mu.Unlock()
	s.log.Info("rpc: serving", "addr", l.Addr().String())
	if err := srv.Serve(netutil.LimitListener(l, s.cfg.ConnectionsMax)); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("rpc: serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting requests, lets in-flight HTTP requests finish,
// closes every WebSocket connection (status "going away"), stops block
// delivery, and waits for all of it until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.shutOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		srv := s.httpSrv
		conns := make([]*wsConn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			c.close(websocket.StatusGoingAway, "server shutting down")
		}
		if srv != nil {
			err = srv.Shutdown(ctx)
		}
		s.hub.stop()
		done := make(chan struct{})
		go func() { s.connsWG.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
		}
	})
	return err
}

// serveRPC handles JSON-RPC over HTTP POST.
func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if !s.applyCORS(w, r) && r.Header.Get("Origin") != "" && len(s.cfg.CORSOrigins) > 0 {
		writeHTTPError(w, http.StatusForbidden, errInvalidRequest("origin not allowed"))
		return
	}
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		writeHTTPError(w, http.StatusMethodNotAllowed, errInvalidRequest("use POST with a JSON-RPC body (WebSocket is on /ws)"))
		return
	}
	// Only application/json: a browser page can send text/plain or form
	// posts cross-origin without a CORS preflight.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeHTTPError(w, http.StatusUnsupportedMediaType, errInvalidRequest("Content-Type must be application/json"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.RequestBytesMax))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeHTTPError(w, http.StatusRequestEntityTooLarge,
				errInvalidRequest("request body exceeds %d bytes", s.cfg.RequestBytesMax))
			return
		}
		writeHTTPError(w, http.StatusBadRequest, &Error{Code: CodeParseError, Message: "read body: " + err.Error()})
		return
	}
	out, _ := s.disp.handle(r.Context(), body, nil)
	if out == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// writeHTTPError answers with an HTTP status and a JSON-RPC error body.
func writeHTTPError(w http.ResponseWriter, status int, e *Error) {
	body, _ := json.Marshal(errorResponse(nil, e))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// applyCORS sets the CORS headers if the request's origin is allowed and
// reports whether it was.
func (s *Server) applyCORS(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(s.cfg.CORSOrigins) == 0 {
		return false
	}
	allowed := ""
	for _, o := range s.cfg.CORSOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			allowed = origin
			break
		}
	}
	if allowed == "" {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", allowed)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	return true
}

// serveHealth answers 200 while the node commits, 503 with the reason
// when it is stalled or syncing.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	ok, reason := s.backend.Healthy()
	if !ok {
		if reason == "" {
			reason = "unhealthy"
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, reason+"\n")
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}
