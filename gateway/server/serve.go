// Package server runs a gateway as a daemon: the client, TLS (HTTP/1 and
// HTTP/2), L4 and admin listeners, reload on signal or file change, drain
// on shutdown, and the wiring of discovery and failover, including the AWS
// clients they use. The request path itself is package gateway's.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/trace"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/fsnotify/fsnotify"
	"golang.org/x/net/http2"

	"github.com/drawbridge-dev/drawbridge/gateway"
	"github.com/drawbridge-dev/drawbridge/gateway/acme"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/failover"
	"github.com/drawbridge-dev/drawbridge/gateway/h2guard"
	"github.com/drawbridge-dev/drawbridge/gateway/hygiene"
	"github.com/drawbridge-dev/drawbridge/gateway/l4"
	"github.com/drawbridge-dev/drawbridge/gateway/tlsterm"
	"github.com/drawbridge-dev/drawbridge/internal/awsclient"
	"github.com/drawbridge-dev/drawbridge/internal/discovery"
	"github.com/drawbridge-dev/drawbridge/internal/lease"
)

// Runner runs a gateway as a daemon: client and admin listeners, config
// reload on signal or file change, graceful drain on shutdown.
type Runner struct {
	// ConfigPath is the YAML file to load and watch; empty with Config set
	// runs a fixed in-memory configuration.
	ConfigPath string
	Config     *config.Config
	Options    gateway.Options
	// Reload triggers a reload of ConfigPath (SIGHUP).
	Reload <-chan struct{}
	// Ready, if set, is called once every listener accepts connections.
	Ready func(l Listeners, g *gateway.Gateway)
}

// Listeners are the addresses the gateway serves on (nil when off).
type Listeners struct {
	HTTP, HTTPS, Admin net.Addr
}

// addrOrOff names a listener for the log: its address, or "off".
func addrOrOff(a net.Addr) string {
	if a == nil {
		return "off"
	}
	return a.String()
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
	g, err := gateway.New(cfg, r.Options)
	if err != nil {
		return err
	}
	defer g.Close()
	g.SetConfigFile(r.ConfigPath)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := g.HTTPServer(cfg)
	stopTracing, err := trace.Start(srv, cfg.Tracing, log)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer stopTracing()
	fo, err := r.startFailover(ctx, g, cfg, log)
	if err != nil {
		_ = ln.Close()
		return err
	}
	if fo != nil {
		srv.Handler = fenced(fo, srv.Handler)
		defer fo.stop()
	}
	// Outside the fence: either gateway of a pair may be the one the CA
	// reaches, and each answers from the shared storage.
	srv.Handler = g.ACMEChallenges(srv.Handler)
	disc := startDiscovery(ctx, g, log)
	defer disc.stop()
	disc.apply(cfg)
	errc := make(chan error, 3)
	client := g.ClientServer(srv, cfg)
	go func() { errc <- client.Serve(ln) }()
	ls := Listeners{HTTP: ln.Addr()}
	closeAll := func() { _ = client.Close() }

	var h2 *h2Side
	if t := cfg.TLS; t != nil {
		tln, err := net.Listen("tcp", t.Listen)
		if err != nil {
			closeAll()
			return fmt.Errorf("tls.listen: %w", err)
		}
		h2 = serveTLS(g, tln, cfg, srv, errc)
		ls.HTTPS = tln.Addr()
		if _, port, err := net.SplitHostPort(tln.Addr().String()); err == nil {
			g.SetHTTPSPort(port)
		}
		closeAll = func() { _ = client.Close(); h2.stop() }
		if t.ACME.On() {
			m := startACME(ctx, g, t.ACME, ln.Addr(), tln.Addr(), log)
			defer m.Stop()
		}
	}

	tcp, err := startTCP(g, cfg, errc, log)
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
	// Watch before saying ready, so that an edit made by whoever waited for
	// readiness is never missed.
	files := watchedFiles(r.ConfigPath, cfg)
	changes := r.watch(ctx, log, files)
	log.Info("gateway listening", "addr", ln.Addr().String(), "https", addrOrOff(ls.HTTPS), "admin", addrOrOff(ls.Admin))
	if r.Ready != nil {
		r.Ready(ls, g)
	}

	st := &reloadState{files: files}
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
			r.reload(g, tcp, log, st, false)
			disc.apply(g.Config())
		case <-r.Reload:
			r.reload(g, tcp, log, st, true)
			disc.apply(g.Config())
		case <-ctx.Done():
			return r.shutdown(g, client, h2, tcp, admin, log)
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
func serveTLS(g *gateway.Gateway, ln net.Listener, cfg *config.Config, srv *http.Server, errc chan<- error) *h2Side {
	minV, _ := tlsterm.ParseVersion(cfg.TLS.MinVersion) // validated by config
	tcfg := tlsterm.Config(nil, minV)
	tcfg.GetCertificate = g.GetCertificate
	if a := cfg.TLS.ACME; a.On() && a.Uses(acme.TLSALPN01) {
		tcfg.NextProtos = append(tcfg.NextProtos, tlsterm.ACMEProto)
	}
	h2s := &http2.Server{IdleTimeout: cfg.Server.IdleTimeout, MaxConcurrentStreams: 250, MaxReadFrameSize: h2guard.MaxFrameSize}
	gcfg := gateway.H2GuardConfig(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	disp := tlsterm.NewDispatcher(ln, tcfg, cfg.TLS.HandshakeTimeout,
		func(tc *tls.Conn) {
			h2s.ServeConn(h2guard.Server(tc, gcfg), &http2.ServeConnOpts{Context: ctx, BaseConfig: srv, Handler: srv.Handler})
		},
		hygiene.Guard)
	go func() { _ = disp.Run() }()
	go func() { errc <- srv.Serve(disp.Listener()) }()
	return &h2Side{disp: disp, cancel: cancel}
}

// startACME starts obtaining and renewing tls.acme's certificates in the
// background. It never fails the start: static certificates serve while
// the CA is unreachable or refuses, and the log says why loudly.
func startACME(ctx context.Context, g *gateway.Gateway, c *acme.Config, plain, tlsAddr net.Addr, log *slog.Logger) *acme.Manager {
	m, err := acme.New(c, acme.Options{HTTPAddr: plain.String(), TLSAddr: tlsAddr.String(), Logger: log})
	if err != nil { // validated, so only a file changed since
		log.Error("acme: not started: only the certificate files serve", "err", err)
		return nil
	}
	m.Start(ctx)
	g.SetACME(m)
	return m
}

// reloadState is what reloads remember of each other.
type reloadState struct {
	files   []string // the watched files: the config and the certificates it names
	refused string   // the last refused reload (refusalKey), logged already
	applied string   // contentKey of the files at the last applied reload
}

// reload applies the config file. A refusal is logged once: an editor's
// save raises several file events, and SIGHUP may follow, so the same
// refusal of the same bytes is not logged again; a different edit, a
// different error or a success in between is. A file event that finds
// every watched file as it was at the last applied reload (one save
// seen as two bursts of events on a busy machine) changes nothing;
// SIGHUP (forced) always reloads.
func (r *Runner) reload(g *gateway.Gateway, tcp tcpListeners, log *slog.Logger, st *reloadState, forced bool) {
	if r.ConfigPath == "" {
		return
	}
	content := contentKey(st.files)
	if !forced && content != "" && content == st.applied {
		log.Debug("config files unchanged since the last reload; nothing to apply", "file", r.ConfigPath)
		return
	}
	data, err := os.ReadFile(r.ConfigPath)
	var cfg *config.Config
	if err == nil {
		cfg, err = config.Parse(r.ConfigPath, data)
	}
	if err == nil {
		old := g.Config()
		if cfg.Listen != old.Listen || cfg.Admin != old.Admin || !reflect.DeepEqual(cfg.Failover, old.Failover) ||
			!reflect.DeepEqual(cfg.Tracing, old.Tracing) || cfg.Log != old.Log || cfg.Server.Engine != old.Server.Engine {
			log.Warn("listener addresses, server.engine, failover, tracing or log settings changed; they take effect on restart", "file", r.ConfigPath)
		}
		if err = g.Apply(cfg); err == nil {
			tcp.apply(old, cfg, log)
		}
	} else {
		g.ReloadRefused()
	}
	g.NoteReload(err)
	if err != nil {
		st.applied = ""
		if key := refusalKey(data, err); key != st.refused {
			st.refused = key
			// The message carries FILE:LINE: key: what is wrong.
			log.Error("config reload refused; the previous configuration keeps serving", "error", err.Error())
		}
		return
	}
	st.refused, st.applied = "", content
	log.Info("config reloaded", "file", r.ConfigPath)
}

// contentKey is a digest of the files' contents, read before the reload
// reads them itself: a change that lands in between makes the next event
// see a different key and reload again. "" when a file cannot be read.
func contentKey(files []string) string {
	h := sha256.New()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return ""
		}
		sum := sha256.Sum256(data)
		h.Write(sum[:])
	}
	return string(h.Sum(nil))
}

// refusalKey identifies a refused reload: the bytes read and the error.
func refusalKey(data []byte, err error) string {
	sum := sha256.Sum256(data)
	return string(sum[:]) + err.Error()
}

// watchedFiles are the files whose change reloads the configuration: the
// config itself, the TLS certificates and keys it names, and the files its
// ${file:} references read (the set is fixed at start; SIGHUP reloads a
// file first referenced later).
func watchedFiles(configPath string, cfg *config.Config) []string {
	if configPath == "" {
		return nil
	}
	files := append([]string{configPath}, cfg.SubstitutedFiles()...)
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

func (r *Runner) shutdown(g *gateway.Gateway, srv *gateway.ClientServer, h2 *h2Side, tcp tcpListeners, admin *http.Server, log *slog.Logger) error {
	g.StartDraining()
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

// runningFailover is the failover controller's goroutine.
type runningFailover struct {
	*failover.Controller
	cancel context.CancelFunc
	done   chan struct{}
}

// stop steps down, releases the lease and waits for both.
func (f *runningFailover) stop() { f.cancel(); <-f.done }

// startFailover builds and starts the failover controller of cfg; nil when
// failover is off. It runs until ctx ends: shutdown steps down first, so the
// peer takes over while this gateway drains.
func (r *Runner) startFailover(ctx context.Context, g *gateway.Gateway, cfg *config.Config, log *slog.Logger) (*runningFailover, error) {
	fc := cfg.Failover
	if fc == nil || fc.Mode == config.FailoverNone {
		return nil, nil
	}
	if fc.Mode == config.FailoverAWS && (fc.EIP.InstanceID == config.Auto || fc.Node == config.Auto) {
		// Both gateways install one file; what differs between them comes
		// from IMDS. Until it answers this gateway neither serves nor
		// competes for the lease.
		id, err := failover.LookupIdentity(ctx, failover.NewIMDS(), g.Clock(), 2*time.Second, log)
		if err != nil {
			return nil, fmt.Errorf("failover: instance identity: %w", err)
		}
		resolved := *fc
		if resolved.EIP.InstanceID == config.Auto {
			resolved.EIP.InstanceID = id.InstanceID
		}
		if resolved.Node == config.Auto {
			resolved.Node = id.InstanceID
		}
		if resolved.Region == "" {
			resolved.Region = id.Region
		}
		fc = &resolved
		log.Info("failover: this instance", "instance", id.InstanceID, "region", id.Region, "private_ip", id.PrivateIP)
	}
	var awsCfg *aws.Config
	awsConfig := func() (aws.Config, error) {
		if awsCfg == nil {
			c, err := awsclient.Load(ctx, awsclient.Options{Region: fc.Region, Endpoint: fc.Endpoint, RegionKey: "failover.region"})
			if err != nil {
				return aws.Config{}, fmt.Errorf("failover: %w", err)
			}
			awsCfg = &c
		}
		return *awsCfg, nil
	}
	var ls failover.Lease
	switch fc.Lease.Type {
	case config.LeaseFile:
		ls = lease.NewFile(fc.Lease.Path, g.Clock())
	case config.LeaseDynamoDB:
		c, err := awsConfig()
		if err != nil {
			return nil, err
		}
		api := dynamodb.NewFromConfig(c)
		ls = lease.NewDynamoDB(api, fc.Lease.Table, fc.Lease.Key, g.Clock())
	}
	var addr failover.Address
	if fc.Mode == config.FailoverLocal {
		prefix, err := netip.ParsePrefix(fc.VIP.Address) // validated by config
		if err != nil {
			return nil, fmt.Errorf("failover.vip.address: %w", err)
		}
		addr = &failover.VIP{Prefix: prefix, Interface: fc.VIP.Interface}
	} else {
		c, err := awsConfig()
		if err != nil {
			return nil, err
		}
		addr = &failover.EIP{API: ec2.NewFromConfig(c), AllocationID: fc.EIP.AllocationID, InstanceID: fc.EIP.InstanceID}
	}
	transitions := gateway.NewTransitionCounter()
	ctrl, err := failover.New(failover.Config{
		Node: fc.Node, TTL: fc.Lease.TTL, Lease: ls, Address: addr, Clock: g.Clock(), Log: log,
		OnTransition: func(t failover.Transition) { transitions.WithLabelValues(string(t.To)).Inc() },
	})
	if err != nil {
		return nil, err
	}
	g.SetFailover(ctrl, transitions)
	ctx, cancel := context.WithCancel(ctx)
	rf := &runningFailover{Controller: ctrl, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rf.done)
		_ = ctrl.Run(ctx)
	}()
	return rf, nil
}

// fenced serves only while the controller holds a valid lease; otherwise
// the gateway is passive and answers 503 and closes the connection, so a
// client still connected to a node that lost the lease moves on.
func fenced(f *runningFailover, next http.Handler) http.Handler {
	node := f.Node()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(gateway.NodeHeader, node)
		token, ok := f.Fence()
		if !ok {
			w.Header().Set("Connection", "close")
			http.Error(w, "passive gateway", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set(gateway.FenceHeader, strconv.FormatUint(token, 10))
		next.ServeHTTP(w, r)
	})
}

// discoveries runs one discovery watcher per dynamic pool and restarts a
// watcher when its pool's discovery settings change on reload.
type discoveries struct {
	ctx     context.Context
	g       *gateway.Gateway
	log     *slog.Logger
	running map[string]*watcher // by pool name
	aws     map[[2]string]aws.Config
}

type watcher struct {
	cfg    config.Discovery
	pool   *gateway.Pool
	cancel context.CancelFunc
	done   chan struct{}
}

func startDiscovery(ctx context.Context, g *gateway.Gateway, log *slog.Logger) *discoveries {
	return &discoveries{ctx: ctx, g: g, log: log, running: map[string]*watcher{}, aws: map[[2]string]aws.Config{}}
}

// apply makes the running watchers match cfg.
func (d *discoveries) apply(cfg *config.Config) {
	want := map[string]bool{}
	for i := range cfg.Pools {
		pc := &cfg.Pools[i]
		if !pc.Dynamic() {
			continue
		}
		want[pc.Name] = true
		pool := d.g.Pool(pc.Name)
		if w := d.running[pc.Name]; w != nil {
			if w.cfg == *pc.Discovery && w.pool == pool {
				continue
			}
			w.stopWait()
		}
		delete(d.running, pc.Name)
		if pool == nil {
			continue
		}
		log := d.log.With("pool", pc.Name, "discovery", pc.Discovery.Type)
		prov, err := d.provider(pc.Discovery, log)
		if err != nil {
			log.Error("discovery not started; the pool keeps its backends list", "error", err.Error())
			continue
		}
		ctx, cancel := context.WithCancel(d.ctx)
		w := &watcher{cfg: *pc.Discovery, pool: pool, cancel: cancel, done: make(chan struct{})}
		d.running[pc.Name] = w
		go func() {
			defer close(w.done)
			_ = discovery.Watch(ctx, prov, pool, func(err error) {
				log.Error("discovered membership refused; the previous one stays", "error", err.Error())
			})
		}()
	}
	for name, w := range d.running {
		if !want[name] {
			w.stopWait()
			delete(d.running, name)
		}
	}
}

func (w *watcher) stopWait() { w.cancel(); <-w.done }

func (d *discoveries) stop() {
	for _, w := range d.running {
		w.stopWait()
	}
}

func (d *discoveries) provider(dc *config.Discovery, log *slog.Logger) (discovery.Provider, error) {
	onError := func(err error) {
		log.Warn("discovery failed; the last known membership stays", "error", err.Error())
	}
	return dc.Build(discovery.Env{Clock: d.g.Clock(), OnError: onError, AWS: d.awsConfig})
}

// awsConfig loads the AWS configuration once per region and endpoint.
func (d *discoveries) awsConfig(region, endpoint string) (aws.Config, error) {
	key := [2]string{region, endpoint}
	if c, ok := d.aws[key]; ok {
		return c, nil
	}
	c, err := awsclient.Load(d.ctx, awsclient.Options{Region: region, Endpoint: endpoint, RegionKey: "pools[].discovery.region"})
	if err == nil {
		d.aws[key] = c
	}
	return c, err
}
