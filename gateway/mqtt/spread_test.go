package mqtt_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/drawbridge-dev/drawbridge/gateway/l4"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// whereabouts records, from the brokers' side, which broker each client
// id published its whoami messages to, by phase (the payload).
type whereabouts struct {
	mu   sync.Mutex
	seen map[string]map[string]int // phase -> client id -> broker
}

func (w *whereabouts) record(broker int, m paho.Message) {
	id := strings.TrimPrefix(m.Topic(), "whoami/")
	w.mu.Lock()
	defer w.mu.Unlock()
	phase := string(m.Payload())
	if w.seen[phase] == nil {
		w.seen[phase] = map[string]int{}
	}
	w.seen[phase][id] = broker
}

func (w *whereabouts) snapshot(phase string) map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.seen[phase]))
	for k, v := range w.seen[phase] {
		out[k] = v
	}
	return out
}

// observe connects an observer straight to each broker (not through the
// gateway), subscribed to whoami/#.
func observe(t *testing.T, bs []*broker) *whereabouts {
	w := &whereabouts{seen: map[string]map[string]int{}}
	for i, b := range bs {
		o := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + b.Addr).
			SetClientID(fmt.Sprintf("observer-%d", i)).SetAutoReconnect(false))
		if tok := o.Connect(); !tok.WaitTimeout(testkit.Patience) || tok.Error() != nil {
			t.Fatalf("observer %d: %v", i, tok.Error())
		}
		t.Cleanup(func() { o.Disconnect(0) })
		if tok := o.Subscribe("whoami/#", 1, func(_ paho.Client, m paho.Message) { w.record(i, m) }); !tok.WaitTimeout(testkit.Patience) || tok.Error() != nil {
			t.Fatalf("observer %d subscribe: %v", i, tok.Error())
		}
	}
	return w
}

// TestClientsSpreadByClientIDAndOnlyADeadBrokersClientsMove puts 1,000
// MQTT 3.1.1 clients (paho) through the gateway onto 3 mosquitto
// brokers, learns from the brokers where each landed, kills one broker
// with SIGKILL while clients publish, and checks that exactly its clients
// moved, to the survivors, and that every other client kept its
// connection and broker.
func TestClientsSpreadByClientIDAndOnlyADeadBrokersClientsMove(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 clients and 3 brokers: not in -short")
	}
	bs := startBrokers(t, 3)
	p, addr := gateway(t, bs, nil, func(c *l4.Config) {
		c.Health = &l4.HealthConfig{Interval: 200 * time.Millisecond, Timeout: time.Second, HealthyThreshold: 1, UnhealthyThreshold: 1}
	})
	w := observe(t, bs)

	const n = 1000
	clients := make([]paho.Client, n)
	connects := make([]atomic.Int32, n)
	ids := make([]string, n)
	for i := range clients {
		ids[i] = fmt.Sprintf("client-%04d", i)
		opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(ids[i]).
			SetCleanSession(true).SetKeepAlive(time.Minute).
			SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).
			SetOnConnectHandler(func(c paho.Client) {
				connects[i].Add(1)
				// QoS 0: a QoS 1 message still unacknowledged when the
				// broker dies is resent by paho's resume(), which races
				// with its own writer (paho v1.5.1, seen with -race).
				c.Publish("whoami/"+ids[i], 0, true, "connect")
			})
		clients[i] = paho.NewClient(opts)
	}
	t.Cleanup(func() {
		for _, c := range clients {
			c.Disconnect(0)
		}
	})
	// A few at a time: a 2-core machine runs the brokers too.
	forEach(t, n, func(i int) error {
		tok := clients[i].Connect()
		if !tok.WaitTimeout(testkit.Patience) {
			return fmt.Errorf("%s: connect timed out", ids[i])
		}
		return tok.Error()
	})
	testkit.Eventually(t, "every client seen by a broker", func() bool { return len(w.snapshot("connect")) == n })
	before := w.snapshot("connect")
	counts := make([]int, len(bs))
	for _, b := range before {
		counts[b]++
	}
	t.Logf("spread over the brokers: %v (ideal %.1f each)", counts, float64(n)/3)
	for i, c := range counts {
		if c < n/3*85/100 || c > n/3*115/100+1 {
			t.Errorf("broker %d has %d clients, outside ±15%% of %d", i, c, n/3)
		}
	}

	// Load: clients publish while the broker dies.
	stop := make(chan struct{})
	var loadDone sync.WaitGroup
	var published atomic.Int64
	loadDone.Add(1)
	go func() {
		defer loadDone.Done()
		for i := 0; i < 20_000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tok := clients[i%n].Publish("load/"+ids[i%n], 0, false, "x")
			if tok.WaitTimeout(time.Second) && tok.Error() == nil {
				published.Add(1)
			}
		}
	}()
	testkit.Eventually(t, "load running", func() bool { return published.Load() > 100 })

	const killed = 1
	bs[killed].Kill()
	testkit.Eventually(t, "the MQTT health check to mark the killed broker down", func() bool {
		return !p.Stats().Backends[killed].Healthy
	})
	orphans := 0
	for _, b := range before {
		if b == killed {
			orphans++
		}
	}
	testkit.Eventually(t, "the killed broker's clients to reconnect elsewhere", func() bool {
		now := w.snapshot("connect")
		moved := 0
		for id, b := range before {
			if b == killed && now[id] != killed {
				moved++
			}
		}
		return moved == orphans
	})
	close(stop)
	loadDone.Wait()

	// Every client says where it is now, over its current connection.
	forEach(t, n, func(i int) error {
		tok := clients[i].Publish("whoami/"+ids[i], 1, true, "check")
		if !tok.WaitTimeout(testkit.Patience) {
			return fmt.Errorf("%s: publish timed out", ids[i])
		}
		return tok.Error()
	})
	testkit.Eventually(t, "every client's check seen", func() bool { return len(w.snapshot("check")) == n })
	after := w.snapshot("check")
	moved, stayed := 0, 0
	for i, id := range ids {
		was, is := before[id], after[id]
		switch {
		case was == killed:
			moved++
			if is == killed {
				t.Errorf("%s still on the killed broker", id)
			}
		case is != was:
			t.Errorf("%s moved from broker %d to %d, though its broker lives", id, was, is)
		case connects[i].Load() != 1:
			t.Errorf("%s connected %d times, though its broker lives", id, connects[i].Load())
		default:
			stayed++
		}
	}
	t.Logf("killed broker %d: %d clients moved, %d stayed; %d messages published under load", killed, moved, stayed, published.Load())
	if moved != orphans || moved+stayed != n {
		t.Errorf("moved %d (the killed broker had %d), stayed %d", moved, orphans, stayed)
	}
}

// forEach runs f for 0..n-1 on a few goroutines, failing on its errors.
func forEach(t *testing.T, n int, f func(i int) error) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := f(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
}
