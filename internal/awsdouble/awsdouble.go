// Package awsdouble is a strict test double of the AWS APIs drawbridge
// calls, speaking the wire protocols the aws-sdk-go-v2 clients speak: EC2
// and Auto Scaling over the query protocol (form POST, XML answers),
// DynamoDB over JSON 1.0, CloudWatch over the query protocol, and IMDSv2
// (token PUT, then GET). Unknown actions, malformed parameters and
// unsigned requests get AWS-shaped errors, never silence.
//
// Its Auto Scaling groups are live: when desired capacity changes, the
// double launches instances after a launch delay and terminates surplus
// ones, through callbacks that start and stop real processes. An Elastic
// IP association calls back too, so a twin can route the address to the
// instance that holds it.
//
// For unit tests: groups can start with instances as found (Group.Instances,
// AttachInstance, DetachInstance); PutMetric fills the CloudWatch store
// that GetMetricData aggregates; FailNext injects AWS errors (throttling,
// 5xx, AccessDenied) in each service's own error shape; Calls and Forms
// tell what reached the double.
package awsdouble

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Instance is one EC2 instance of the double.
type Instance struct {
	ID        string
	PrivateIP string
	AZ        string
	Tags      map[string]string
	// ASG lifecycle: Pending, InService, Terminating:Wait (a termination
	// lifecycle hook holds it, still running), Terminating ("" outside a
	// group).
	Lifecycle string
	// Health is the group's health status: "" or Healthy, Unhealthy.
	Health   string
	group    string
	launched time.Time
}

// Group is an Auto Scaling group.
type Group struct {
	Name                   string
	Min, Max, Desired      int
	AZs                    []string
	Tags                   map[string]string // propagated to its instances
	HealthCheckGracePeriod int
	// TerminationHook is the heartbeat timeout of an
	// autoscaling:EC2_INSTANCE_TERMINATING lifecycle hook with default
	// result CONTINUE; 0 means the group has no such hook. With one, an
	// instance leaving on scale-in stays running in Terminating:Wait for
	// this long (nobody completes the action early), so whoever discovers
	// the group sees it leave before its process stops, as on AWS.
	TerminationHook time.Duration
	// Instances, when non-nil, are the group's members as found (ids,
	// lifecycle states, health and addresses as given): AddGroup then
	// launches nothing, the next capacity change reconciles. It sets the
	// scene of a group caught mid-activity.
	Instances []Instance
}

// Hooks are the twin's side of the model; any may be nil.
type Hooks struct {
	// Launch starts instance inst of a group (a real process) and returns
	// its private IP once it runs. An error leaves the instance out.
	Launch func(inst Instance) (privateIP string, err error)
	// Terminate stops the instance's process; the group forgets it after.
	Terminate func(inst Instance)
	// Associate moves an Elastic IP to an instance.
	Associate func(allocationID, publicIP, instanceID string)
}

// Double is the fake AWS account: one region, its state, its handlers.
type Double struct {
	Region      string
	LaunchDelay time.Duration // between a capacity change and Launch
	Hooks       Hooks

	mu        sync.Mutex
	next      int
	instances map[string]*Instance
	groups    map[string]*Group
	addresses map[string]*address // by allocation id
	tables    map[string]map[string]item
	calls     map[string]int
	failures  map[string][]failure    // by "service:Action"
	forms     map[string][]url.Values // query-protocol requests by "service:Action"
	metrics   map[string][]datapoint  // by metric key
	// CloudWatchPageSize bounds the datapoints of one GetMetricData page
	// (0: AWS's 100,800); smaller pages exercise a client's NextToken.
	CloudWatchPageSize int
	wg                 sync.WaitGroup
	closed             bool
}

type failure struct {
	code  string
	times int // < 0: until Recover
}

type address struct {
	allocationID, publicIP, instanceID, associationID string
}

// New returns an empty account in region.
func New(region string) *Double {
	return &Double{Region: region, instances: map[string]*Instance{}, groups: map[string]*Group{},
		addresses: map[string]*address{}, tables: map[string]map[string]item{}, calls: map[string]int{},
		failures: map[string][]failure{}, forms: map[string][]url.Values{}, metrics: map[string][]datapoint{}}
}

// Close waits for launches and terminations in progress.
func (d *Double) Close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.wg.Wait()
}

func (d *Double) id(prefix string) string {
	d.next++
	return fmt.Sprintf("%s-%017x", prefix, 0xd0000+d.next)
}

// AddInstance registers a stand-alone instance (a gateway) and returns it.
func (d *Double) AddInstance(privateIP, az string, tags map[string]string) Instance {
	d.mu.Lock()
	defer d.mu.Unlock()
	in := &Instance{ID: d.id("i"), PrivateIP: privateIP, AZ: az, Tags: tags, launched: time.Now()}
	d.instances[in.ID] = in
	return *in
}

// AddAddress allocates an Elastic IP and returns its allocation id.
func (d *Double) AddAddress(publicIP string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := &address{allocationID: d.id("eipalloc"), publicIP: publicIP}
	d.addresses[a.allocationID] = a
	return a.allocationID
}

// AddTable creates a DynamoDB table with string partition key "pk".
func (d *Double) AddTable(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tables[name] = map[string]item{}
}

// AddGroup creates an Auto Scaling group and launches its desired capacity.
func (d *Double) AddGroup(g Group) error {
	if g.Min > g.Max || g.Desired < g.Min || g.Desired > g.Max {
		return fmt.Errorf("group %s: min %d desired %d max %d", g.Name, g.Min, g.Desired, g.Max)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	gg := g
	gg.Instances = nil
	d.groups[g.Name] = &gg
	if g.Instances == nil {
		d.reconcile(&gg)
		return nil
	}
	for _, in := range g.Instances {
		d.attach(g.Name, in)
	}
	return nil
}

// attach adds in to a group as given. d.mu is held.
func (d *Double) attach(group string, in Instance) Instance {
	nin := in
	if nin.ID == "" {
		nin.ID = d.id("i")
	}
	if nin.Lifecycle == "" {
		nin.Lifecycle = "InService"
	}
	nin.group, nin.launched = group, time.Now()
	nin.Tags = map[string]string{"aws:autoscaling:groupName": group}
	for k, v := range in.Tags {
		nin.Tags[k] = v
	}
	d.instances[nin.ID] = &nin
	return nin
}

// AttachInstance adds a running instance to a group in the state given
// (InService by default) and raises desired capacity by one, as
// AttachInstances does.
func (d *Double) AttachInstance(group string, in Instance) (Instance, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.groups[group]
	if g == nil {
		return Instance{}, fmt.Errorf("no group %s", group)
	}
	if g.Desired+1 > g.Max {
		return Instance{}, fmt.Errorf("group %s: attaching exceeds max %d", group, g.Max)
	}
	g.Desired++
	return d.attach(group, in), nil
}

// DetachInstance removes an instance from its group and from EC2 at once,
// lowering desired capacity by one (DetachInstances with
// ShouldDecrementDesiredCapacity, then the instance terminated).
func (d *Double) DetachInstance(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	in := d.instances[id]
	if in == nil {
		return
	}
	if g := d.groups[in.group]; g != nil && g.Desired > 0 {
		g.Desired--
	}
	delete(d.instances, id)
}

// FailNext makes the next times calls of action ("ec2:AssociateAddress",
// "autoscaling:DescribeAutoScalingGroups", "dynamodb:UpdateItem",
// "monitoring:GetMetricData") fail with the AWS error code, in the
// service's own error shape and the status AWS gives that code (Throttling
// 400, RequestLimitExceeded and ServiceUnavailable 503, InternalFailure
// 500, AccessDenied 403). times < 0 fails every call until Recover. Calls
// queue: FailNext(a, "Throttling", 1) then FailNext(a, "ServiceUnavailable",
// 1) fails the next two calls in that order.
func (d *Double) FailNext(action, code string, times int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures[action] = append(d.failures[action], failure{code, times})
}

// Recover drops the failures queued for action.
func (d *Double) Recover(action string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.failures, action)
}

// Forms returns the parameters of the query-protocol requests served for
// action ("service:Action"), oldest first.
func (d *Double) Forms(action string) []url.Values {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]url.Values, 0, len(d.forms[action]))
	for _, f := range d.forms[action] {
		c := url.Values{}
		for k, v := range f {
			c[k] = append([]string(nil), v...)
		}
		out = append(out, c)
	}
	return out
}

// failStatus is the HTTP status AWS answers an error code with.
func failStatus(code string) int {
	switch code {
	case "RequestLimitExceeded", "ServiceUnavailable", "Unavailable":
		return http.StatusServiceUnavailable
	case "InternalFailure", "InternalError", "InternalServerError":
		return http.StatusInternalServerError
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure":
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// call counts a call of key and, if a failure is queued for it, returns
// its code (the caller answers it in the service's shape).
func (d *Double) call(key string, f url.Values) (code string, fail bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[key]++
	if f != nil {
		d.forms[key] = append(d.forms[key], f)
	}
	q := d.failures[key]
	if len(q) == 0 {
		return "", false
	}
	code = q[0].code
	if q[0].times > 0 {
		q[0].times--
	}
	if q[0].times == 0 {
		q = q[1:]
	}
	if len(q) == 0 {
		delete(d.failures, key)
	} else {
		d.failures[key] = q
	}
	return code, true
}

// Association returns the instance an Elastic IP is associated with.
func (d *Double) Association(allocationID string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a := d.addresses[allocationID]; a != nil {
		return a.instanceID
	}
	return ""
}

// GroupState returns a group's desired capacity and its instances by
// lifecycle state.
func (d *Double) GroupState(name string) (desired int, byState map[string][]Instance) {
	d.mu.Lock()
	defer d.mu.Unlock()
	byState = map[string][]Instance{}
	g := d.groups[name]
	if g == nil {
		return 0, byState
	}
	for _, in := range d.members(name) {
		byState[in.Lifecycle] = append(byState[in.Lifecycle], *in)
	}
	return g.Desired, byState
}

// Calls counts the API calls served, by "service:Action".
func (d *Double) Calls() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]int{}
	for k, v := range d.calls {
		out[k] = v
	}
	return out
}

// members lists a group's instances, oldest first. d.mu is held.
func (d *Double) members(group string) []*Instance {
	var out []*Instance
	for _, in := range d.instances {
		if in.group == group {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].launched.Before(out[j].launched) || (out[i].launched.Equal(out[j].launched) && out[i].ID < out[j].ID)
	})
	return out
}

// reconcile launches or terminates instances until the group's live
// (not terminating) instances match desired. d.mu is held.
func (d *Double) reconcile(g *Group) {
	var live []*Instance
	for _, in := range d.members(g.Name) {
		if !terminating(in.Lifecycle) {
			live = append(live, in)
		}
	}
	for n := len(live); n < g.Desired; n++ {
		az := d.Region + "a"
		if len(g.AZs) > 0 {
			az = g.AZs[n%len(g.AZs)]
		}
		in := &Instance{ID: d.id("i"), AZ: az, Lifecycle: "Pending", group: g.Name, launched: time.Now(), Tags: map[string]string{}}
		for k, v := range g.Tags {
			in.Tags[k] = v
		}
		in.Tags["aws:autoscaling:groupName"] = g.Name
		d.instances[in.ID] = in
		d.wg.Add(1)
		go d.launch(in.ID)
	}
	// Scale in from the newest (the default policy's last tie-breaker;
	// the twin's instances share one launch template and AZ balance).
	for i := len(live) - 1; i >= g.Desired; i-- {
		in := live[i]
		in.Lifecycle = "Terminating"
		if g.TerminationHook > 0 && in.PrivateIP != "" {
			in.Lifecycle = "Terminating:Wait"
		}
		d.wg.Add(1)
		go d.terminate(in.ID, g.TerminationHook)
	}
}

// terminating tells the Terminating* lifecycle states.
func terminating(state string) bool { return strings.HasPrefix(state, "Terminating") }

func (d *Double) launch(id string) {
	defer d.wg.Done()
	if d.LaunchDelay > 0 {
		time.Sleep(d.LaunchDelay) // the modelled boot time, not synchronisation
	}
	d.mu.Lock()
	in := d.instances[id]
	if in == nil || in.Lifecycle != "Pending" || d.closed {
		d.mu.Unlock()
		return
	}
	snap := *in
	d.mu.Unlock()
	ip := ""
	var err error
	if d.Hooks.Launch != nil {
		ip, err = d.Hooks.Launch(snap)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if in := d.instances[id]; in != nil && err == nil && in.Lifecycle == "Pending" {
		in.PrivateIP, in.Lifecycle = ip, "InService"
	} else if err != nil {
		delete(d.instances, id)
	}
}

func (d *Double) terminate(id string, hook time.Duration) {
	defer d.wg.Done()
	d.mu.Lock()
	wait := d.instances[id].Lifecycle == "Terminating:Wait"
	d.mu.Unlock()
	if wait {
		// The hook's heartbeat timeout runs out, then its default result
		// (CONTINUE) lets the termination proceed.
		time.Sleep(hook) // the modelled hook timeout, not synchronisation
		d.mu.Lock()
		d.instances[id].Lifecycle = "Terminating:Proceed"
		d.mu.Unlock()
	}
	d.mu.Lock()
	snap := *d.instances[id]
	d.mu.Unlock()
	if d.Hooks.Terminate != nil && snap.PrivateIP != "" {
		d.Hooks.Terminate(snap)
	}
	d.mu.Lock()
	delete(d.instances, id)
	d.mu.Unlock()
}

var scopeRe = regexp.MustCompile(`Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request`)

// ServeHTTP routes by the SigV4 credential scope's service, as AWS's
// endpoints are per service; an unsigned request is refused.
func (d *Double) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := scopeRe.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		queryError(w, "MissingAuthenticationToken", "Request is missing Authentication Token", http.StatusForbidden)
		return
	}
	if m[1] != d.Region {
		queryError(w, "AuthFailure", fmt.Sprintf("credential scope region %s; this endpoint serves %s", m[1], d.Region), http.StatusForbidden)
		return
	}
	switch m[2] {
	case "ec2":
		d.serveEC2(w, r)
	case "autoscaling":
		d.serveAutoScaling(w, r)
	case "dynamodb":
		d.serveDynamoDB(w, r)
	case "monitoring":
		d.serveCloudWatch(w, r)
	default:
		queryError(w, "UnrecognizedClientException", "no such service "+m[2], http.StatusBadRequest)
	}
}

func (d *Double) count(key string) {
	d.mu.Lock()
	d.calls[key]++
	d.mu.Unlock()
}
