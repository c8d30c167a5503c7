package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/net/http2"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/l4"
	"github.com/drawbridge-dev/drawbridge/gateway/tlsterm"
)

// Runner runs a gateway as a daemon: client and admin listeners, config
// reload on signal or file change, graceful drain on shutdown.
type Runner struct {
	// ConfigPath is the YAML file to load and watch; empty with Config set
	// runs a fixed in-memory configuration.
	ConfigPath string
	Config     *config.Config
	Options    Options
	// Reload triggers a reload of ConfigPath (SIGHUP).
	Reload <-chan struct{}
	// Ready, if set, is called once every listener accepts connections.
	Ready func(l Listeners, g *Gateway)
}

// Listeners are the addresses the gateway serves on (nil when off).
type Listeners struct {
	HTTP, HTTPS, Admin net.Addr
}

// Run serves until ctx ends, then stops accepting and drains in-flight
// requests for up to the config's shutdown_timeout.
func (r *Runner) Run(ctx context.Context) error {
	cfg := r.Config
	if cfg == nil {
		var err error
		if cfg, err = config.Load(r.ConfigPath); err != nil {
			return err
		}
	}
	log := r.Options.Logger
	if log == nil {
		log = slog.Default()
		r.Options.Logger = log
	}
	g, err := New(cfg, r.Options)
	if err != nil {
		return err
	}
	defer g.Close()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := g.newServer(cfg)
	errc := make(chan error, 3)
	go func() { errc <- srv.Serve(guardListener{ln}) }()
	ls := Listeners{HTTP: ln.Addr()}
	closeAll := func() { _ = srv.Close() }

	var h2 *h2Side
	if t := cfg.TLS; t != nil {
		tln, err := net.Listen("tcp", t.Listen)
		if err != nil {
			closeAll()
			return fmt.Errorf("tls.listen: %w", err)
		}
		h2 = g.serveTLS(tln, cfg, srv, errc)
		ls.HTTPS = tln.Addr()
		if _, port, err := net.SplitHostPort(tln.Addr().String()); err == nil {
			g.httpsPort.Store(&port)
		}
		closeAll = func() { _ = srv.Close(); h2.stop() }
	}

	tcp, err := g.startTCP(cfg, errc, log)
	if err != nil {
		closeAll()
		return err
	}
	prevClose := closeAll
	closeAll = func() { prevClose(); tcp.shutdown(context.Background()) }

	var admin *http.Server
	if cfg.Admin.Enabled {
		aln, err := net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			closeAll()
			return fmt.Errorf("admin.listen: %w", err)
		}
		ls.Admin = aln.Addr()
		admin = &http.Server{Handler: g.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- admin.Serve(aln) }()
	}
	log.Info("gateway listening", "addr", ln.Addr().String(), "https", fmt.Sprint(ls.HTTPS), "admin", fmt.Sprint(ls.Admin))
	if r.Ready != nil {
		r.Ready(ls, g)
	}

	changes := r.watch(ctx, log, watchedFiles(r.ConfigPath, cfg))
	for {
		select {
		case err := <-errc:
			if !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, l4.ErrClosed) {
				closeAll()
				if admin != nil {
					_ = admin.Close()
				}
				return err
			}
		case <-changes:
			r.reload(g, tcp, log)
		case <-r.Reload:
			r.reload(g, tcp, log)
		case <-ctx.Done():
			return r.shutdown(g, srv, h2, tcp, admin, log)
		}
	}
}

// h2Side is the HTTPS listener's dispatcher and its HTTP/2 connections.
type h2Side struct {
	disp   *tlsterm.Dispatcher
	cancel context.CancelFunc
}

func (h *h2Side) closeListener() { _ = h.disp.Close() }
func (h *h2Side) stop()          { _ = h.disp.Close(); h.cancel() }

// serveTLS terminates TLS on ln: HTTP/1.1 connections (checked by the
// framing guard) go to srv, HTTP/2 ones to an HTTP/2 server.
func (g *Gateway) serveTLS(ln net.Listener, cfg *config.Config, srv *http.Server, errc chan<- error) *h2Side {
	minV, _ := tlsterm.ParseVersion(cfg.TLS.MinVersion) // validated by config
	tcfg := tlsterm.Config(nil, minV)
	tcfg.GetCertificate = g.getCertificate
	h2s := &http2.Server{IdleTimeout: cfg.Server.IdleTimeout, MaxConcurrentStreams: 250}
	ctx, cancel := context.WithCancel(context.Background())
	disp := tlsterm.NewDispatcher(ln, tcfg, cfg.TLS.HandshakeTimeout,
		func(tc *tls.Conn) {
			h2s.ServeConn(tc, &http2.ServeConnOpts{Context: ctx, BaseConfig: srv, Handler: g})
		},
		func(c net.Conn) net.Conn { return newGuardConn(c) })
	go func() { _ = disp.Run() }()
	go func() { errc <- srv.Serve(disp.Listener()) }()
	return &h2Side{disp: disp, cancel: cancel}
}

func (g *Gateway) newServer(cfg *config.Config) *http.Server {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           g,
		Protocols:         p,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          log.New(slogWriter{g.log}, "", 0),
		ConnContext:       guardContext,
	}
}

// slogWriter routes net/http's own error log into the structured log.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn("http server", "msg", string(p))
	return len(p), nil
}

func (r *Runner) reload(g *Gateway, tcp tcpListeners, log *slog.Logger) {
	if r.ConfigPath == "" {
		return
	}
	cfg, err := config.Load(r.ConfigPath)
	if err == nil {
		old := g.Config()
		if cfg.Listen != old.Listen || cfg.Admin != old.Admin {
			log.Warn("listener addresses changed; they take effect on restart", "file", r.ConfigPath)
		}
		if err = g.Apply(cfg); err == nil {
			tcp.apply(cfg, log)
		}
	} else {
		g.metrics.reloads.WithLabelValues("failure").Inc()
	}
	if err != nil {
		// The message carries FILE:LINE: key: what is wrong.
		log.Error("config reload refused; the previous configuration keeps serving", "error", err.Error())
		return
	}
	log.Info("config reloaded", "file", r.ConfigPath)
}

// watchedFiles are the files whose change reloads the configuration: the
// config itself and the TLS certificates and keys it names.
func watchedFiles(configPath string, cfg *config.Config) []string {
	if configPath == "" {
		return nil
	}
	files := []string{configPath}
	if cfg.TLS != nil {
		for _, c := range cfg.TLS.Certificates {
			files = append(files, c.CertFile, c.KeyFile)
		}
	}
	return files
}

// watch reports changes to files. It watches their directories, since
// editors, config managers and certificate renewers replace files by
// rename, and coalesces bursts of events into one reload.
func (r *Runner) watch(ctx context.Context, log *slog.Logger, files []string) <-chan struct{} {
	out := make(chan struct{}, 1)
	if len(files) == 0 {
		return out
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Warn("config file watching unavailable; reload with SIGHUP", "error", err.Error())
		return out
	}
	watched := map[string]bool{}
	for _, f := range files {
		abs, _ := filepath.Abs(f)
		watched[abs] = true
		if err := w.Add(filepath.Dir(abs)); err != nil {
			log.Warn("file watching unavailable; reload with SIGHUP", "file", f, "error", err.Error())
		}
	}
	go func() {
		defer w.Close()
		const settle = 100 * time.Millisecond
		var pending <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if p, _ := filepath.Abs(ev.Name); watched[p] && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
					pending = time.After(settle)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("config watcher", "error", err.Error())
			case <-pending:
				pending = nil
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out
}

func (r *Runner) shutdown(g *Gateway, srv *http.Server, h2 *h2Side, tcp tcpListeners, admin *http.Server, log *slog.Logger) error {
	g.draining.Store(true)
	timeout := g.Config().ShutdownTimeout
	log.Info("shutting down: draining in-flight requests", "inflight", g.Inflight(), "timeout", timeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if h2 != nil {
		h2.closeListener() // no new TLS connections while draining
	}
	tcpDone := make(chan struct{})
	go func() { tcp.shutdown(ctx); close(tcpDone) }()
	defer func() { <-tcpDone }()
	err := srv.Shutdown(ctx)
	if h2 != nil && err == nil {
		// HTTP/2 connections served through ServeConn are not tracked by
		// srv: wait for their requests too, then close them.
		for g.Inflight() > 0 && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
		err = ctx.Err()
	}
	if h2 != nil {
		h2.stop()
	}
	if err != nil {
		log.Warn("drain timed out; closing remaining connections", "inflight", g.Inflight())
		_ = srv.Close()
	}
	if admin != nil {
		_ = admin.Close()
	}
	log.Info("gateway stopped")
	if errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}
