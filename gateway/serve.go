package gateway

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
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
	// Ready, if set, is called once both listeners accept connections.
	Ready func(addr, admin net.Addr, g *Gateway)
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
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(guardListener{ln}) }()

	var admin *http.Server
	var adminAddr net.Addr
	if cfg.Admin.Enabled {
		aln, err := net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("admin.listen: %w", err)
		}
		adminAddr = aln.Addr()
		admin = &http.Server{Handler: g.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- admin.Serve(aln) }()
	}
	log.Info("gateway listening", "addr", ln.Addr().String(), "admin", fmt.Sprint(adminAddr))
	if r.Ready != nil {
		r.Ready(ln.Addr(), adminAddr, g)
	}

	changes := r.watch(ctx, log)
	for {
		select {
		case err := <-errc:
			if !errors.Is(err, http.ErrServerClosed) {
				_ = srv.Close()
				if admin != nil {
					_ = admin.Close()
				}
				return err
			}
		case <-changes:
			r.reload(g, log)
		case <-r.Reload:
			r.reload(g, log)
		case <-ctx.Done():
			return r.shutdown(g, srv, admin, log)
		}
	}
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

func (r *Runner) reload(g *Gateway, log *slog.Logger) {
	if r.ConfigPath == "" {
		return
	}
	cfg, err := config.Load(r.ConfigPath)
	if err == nil {
		old := g.Config()
		if cfg.Listen != old.Listen || cfg.Admin != old.Admin {
			log.Warn("listener addresses changed; they take effect on restart", "file", r.ConfigPath)
		}
		err = g.Apply(cfg)
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

// watch reports changes to the config file. It watches the directory, since
// editors and config managers replace files by rename, and coalesces bursts
// of events into one reload.
func (r *Runner) watch(ctx context.Context, log *slog.Logger) <-chan struct{} {
	out := make(chan struct{}, 1)
	if r.ConfigPath == "" {
		return out
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Warn("config file watching unavailable; reload with SIGHUP", "error", err.Error())
		return out
	}
	abs, _ := filepath.Abs(r.ConfigPath)
	if err := w.Add(filepath.Dir(abs)); err != nil {
		log.Warn("config file watching unavailable; reload with SIGHUP", "error", err.Error())
		_ = w.Close()
		return out
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
				if p, _ := filepath.Abs(ev.Name); p == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
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

func (r *Runner) shutdown(g *Gateway, srv, admin *http.Server, log *slog.Logger) error {
	g.draining.Store(true)
	timeout := g.Config().ShutdownTimeout
	log.Info("shutting down: draining in-flight requests", "inflight", g.Inflight(), "timeout", timeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := srv.Shutdown(ctx)
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
