package gateway

import (
	"net"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
)

// testEngine, when set, serves every gateway startGateway starts with that
// server.engine: DRAWBRIDGE_TEST_ENGINE=h1 runs any of the package's
// tests against the h1 engine.
var testEngine = os.Getenv("DRAWBRIDGE_TEST_ENGINE")

// engineListener is the listener startGateway's httptest server serves:
// net/http's, or, for the h1 engine, one that accepts nothing while
// ClientServer serves ln (the httptest server still gives the tests their
// URL and client).
func engineListener(t testing.TB, g *Gateway, cfg *config.Config, srv *http.Server, ln net.Listener) net.Listener {
	if testEngine != "" {
		c := *cfg
		c.Server.Engine = testEngine
		cfg = &c
	}
	if cfg.Server.Engine != config.EngineH1 {
		return ClientListener(ln, cfg)
	}
	cs := g.ClientServer(srv, cfg)
	go func() { _ = cs.Serve(ln) }()
	t.Cleanup(func() { _ = cs.Close() })
	return &servedElsewhere{Listener: ln, closed: make(chan struct{})}
}

// runnerEngine is the config line that gives a daemon started by
// runWithConfigFile the test engine ("" for the default).
func runnerEngine() string {
	if testEngine == "" {
		return ""
	}
	return "server: {engine: " + testEngine + "}\n"
}

// servedElsewhere is a listener another server accepts on.
type servedElsewhere struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func (l *servedElsewhere) Accept() (net.Conn, error) {
	<-l.closed
	return nil, net.ErrClosed
}

func (l *servedElsewhere) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// TestHostileInputH1 runs the hostile-input, framing and corpus tests
// against the h1 engine, and the daemon's drain and reload through it.
func TestHostileInputH1(t *testing.T) {
	if testEngine != "" {
		t.Skip("the whole run uses DRAWBRIDGE_TEST_ENGINE already")
	}
	testEngine = config.EngineH1
	defer func() { testEngine = "" }()
	for name, test := range map[string]func(*testing.T){
		"ACLBypassCorpus":                        TestACLBypassCorpus,
		"MethodOverrideCannotPassAllowlist":      TestMethodOverrideCannotPassAllowlist,
		"ForwardingHeadersCannotBeForged":        TestForwardingHeadersCannotBeForged,
		"OddHostsRefused":                        TestOddHostsRefused,
		"Spellings":                              TestSpellings,
		"TargetFormsOverHTTP1":                   TestTargetFormsOverHTTP1,
		"H2ToH1InjectionOverH2C":                 TestH2ToH1InjectionOverH2C,
		"RequestLineRulesOverHTTP1":              TestRequestLineRulesOverHTTP1,
		"IdentityHeaderCannotBeStrippedOrForged": TestIdentityHeaderCannotBeStrippedOrForged,
		"UnderscoresAllowedKeepsAssertedHeaders": TestUnderscoresAllowedKeepsAssertedHeaders,
		"H2CUpgradeNeverRelayed":                 TestH2CUpgradeNeverRelayed,
		"UpgradeAllowlist":                       TestUpgradeAllowlist,
		"FramingGuardHoles":                      TestFramingGuardHoles,
		"HeaderLimitsDefault":                    TestHeaderLimitsDefault,
		"HeaderCountH2C":                         TestHeaderCountH2C,
		"SmugglingCorpusRefused":                 TestSmugglingCorpusRefused,
		"RequestLimitsAndNormalisation":          TestRequestLimitsAndNormalisation,
		"SlowBodyRefused":                        TestSlowBodyRefused,
		"WebSocketThroughGateway":                TestWebSocketThroughGateway,
		"RefusedUpgradeClosesTheConnection":      TestRefusedUpgradeClosesTheConnection,
		"H2CBothWays":                            TestH2CBothWays,
		"GracefulShutdownDrains":                 TestGracefulShutdownDrains,
		"ReloadOnFileChangeAndSignal":            TestReloadOnFileChangeAndSignal,
	} {
		t.Run(name, test)
	}
}
