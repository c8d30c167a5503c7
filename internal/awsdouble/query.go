package awsdouble

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

const (
	ec2NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
	asNS  = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
)

// queryAction parses a query-protocol request to service, checks its
// Version and returns its form and Action. It answers, and returns false,
// when the request is malformed or the test injected a failure for
// service:Action.
func (d *Double) queryAction(w http.ResponseWriter, r *http.Request, service, version string, ec2Style bool) (url.Values, string, bool) {
	fail := queryError
	if ec2Style {
		fail = ec2Error
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		fail(w, "InvalidRequest", "want a form-encoded POST", http.StatusBadRequest)
		return nil, "", false
	}
	if err := r.ParseForm(); err != nil {
		fail(w, "MalformedQueryString", err.Error(), http.StatusBadRequest)
		return nil, "", false
	}
	if v := r.PostForm.Get("Version"); v != version {
		fail(w, "InvalidParameterValue", fmt.Sprintf("unsupported Version %q", v), http.StatusBadRequest)
		return nil, "", false
	}
	f, action := r.PostForm, r.PostForm.Get("Action")
	if code, injected := d.call(service+":"+action, f); injected {
		fail(w, code, "injected by the double", failStatus(code))
		return nil, "", false
	}
	return f, action, true
}

// members reads a query list: Prefix.1, Prefix.2, ...
func members(f url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := f[prefix+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// known refuses parameters the action does not take (AWS answers
// "Unknown parameter" too), so a client drifting from the double shows.
func known(f url.Values, allowed ...string) (string, bool) {
	for k := range f {
		if k == "Action" || k == "Version" {
			continue
		}
		ok := false
		for _, a := range allowed {
			if k == a || (strings.HasSuffix(a, ".") && strings.HasPrefix(k, a)) {
				ok = true
				break
			}
		}
		if !ok {
			return k, false
		}
	}
	return "", true
}

func writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(v)
}

// ec2Error is EC2's error shape.
func ec2Error(w http.ResponseWriter, code, msg string, status int) {
	type e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName   xml.Name `xml:"Response"`
		Errors    []e      `xml:"Errors>Error"`
		RequestID string   `xml:"RequestID"`
	}{Errors: []e{{code, msg}}, RequestID: "req-double"})
}

// queryError is the awsquery error shape (Auto Scaling, CloudWatch).
func queryError(w http.ResponseWriter, code, msg string, status int) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Type    string   `xml:"Error>Type"`
		Code    string   `xml:"Error>Code"`
		Message string   `xml:"Error>Message"`
		ReqID   string   `xml:"RequestId"`
	}{Type: map[bool]string{true: "Receiver", false: "Sender"}[status >= 500], Code: code, Message: msg, ReqID: "req-double"})
}

type ec2Tag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type ec2Instance struct {
	InstanceID       string   `xml:"instanceId"`
	PrivateIPAddress string   `xml:"privateIpAddress,omitempty"`
	StateCode        int      `xml:"instanceState>code"`
	StateName        string   `xml:"instanceState>name"`
	AZ               string   `xml:"placement>availabilityZone"`
	Tags             []ec2Tag `xml:"tagSet>item"`
}

func (d *Double) serveEC2(w http.ResponseWriter, r *http.Request) {
	f, action, ok := d.queryAction(w, r, "ec2", "2016-11-15", true)
	if !ok {
		return
	}
	switch action {
	case "DescribeInstances":
		if k, ok := known(f, "InstanceId.", "MaxResults", "NextToken"); !ok {
			ec2Error(w, "InvalidParameter", "The parameter "+k+" is not recognized", http.StatusBadRequest)
			return
		}
		ids := members(f, "InstanceId")
		d.mu.Lock()
		var out []ec2Instance
		for _, id := range ids {
			in := d.instances[id]
			if in == nil {
				d.mu.Unlock()
				ec2Error(w, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", id), http.StatusBadRequest)
				return
			}
			out = append(out, toEC2(in))
		}
		if len(ids) == 0 {
			for _, in := range d.instances {
				out = append(out, toEC2(in))
			}
		}
		d.mu.Unlock()
		type reservation struct {
			ID        string        `xml:"reservationId"`
			Instances []ec2Instance `xml:"instancesSet>item"`
		}
		var res []reservation
		for i, in := range out {
			res = append(res, reservation{fmt.Sprintf("r-%017x", i+1), []ec2Instance{in}})
		}
		writeXML(w, struct {
			XMLName      xml.Name      `xml:"DescribeInstancesResponse"`
			NS           string        `xml:"xmlns,attr"`
			RequestID    string        `xml:"requestId"`
			Reservations []reservation `xml:"reservationSet>item"`
		}{NS: ec2NS, RequestID: "req-double", Reservations: res})
	case "AssociateAddress":
		if k, ok := known(f, "AllocationId", "InstanceId", "AllowReassociation"); !ok {
			ec2Error(w, "InvalidParameter", "The parameter "+k+" is not recognized", http.StatusBadRequest)
			return
		}
		alloc, inst := f.Get("AllocationId"), f.Get("InstanceId")
		d.mu.Lock()
		a := d.addresses[alloc]
		switch {
		case alloc == "" || inst == "":
			d.mu.Unlock()
			ec2Error(w, "MissingParameter", "AllocationId and InstanceId are required in a VPC", http.StatusBadRequest)
			return
		case a == nil:
			d.mu.Unlock()
			ec2Error(w, "InvalidAllocationID.NotFound", fmt.Sprintf("The allocation ID '%s' does not exist", alloc), http.StatusBadRequest)
			return
		case d.instances[inst] == nil:
			d.mu.Unlock()
			ec2Error(w, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", inst), http.StatusBadRequest)
			return
		case a.instanceID != "" && a.instanceID != inst && f.Get("AllowReassociation") != "true":
			d.mu.Unlock()
			ec2Error(w, "Resource.AlreadyAssociated", fmt.Sprintf("resource %s is already associated with associate-id %s", alloc, a.associationID), http.StatusBadRequest)
			return
		}
		a.instanceID, a.associationID = inst, d.id("eipassoc")
		assoc, pub := a.associationID, a.publicIP
		d.mu.Unlock()
		// The association is in effect when the call returns, as on AWS
		// (give or take the few seconds the real one takes to propagate).
		if d.Hooks.Associate != nil {
			d.Hooks.Associate(alloc, pub, inst)
		}
		writeXML(w, struct {
			XMLName       xml.Name `xml:"AssociateAddressResponse"`
			NS            string   `xml:"xmlns,attr"`
			RequestID     string   `xml:"requestId"`
			Return        bool     `xml:"return"`
			AssociationID string   `xml:"associationId"`
		}{NS: ec2NS, RequestID: "req-double", Return: true, AssociationID: assoc})
	default:
		ec2Error(w, "InvalidAction", fmt.Sprintf("The action %s is not valid for this web service.", action), http.StatusBadRequest)
	}
}

func health(h string) string {
	if h == "" {
		return "Healthy"
	}
	return h
}

func toEC2(in *Instance) ec2Instance {
	e := ec2Instance{InstanceID: in.ID, PrivateIPAddress: in.PrivateIP, AZ: in.AZ, StateCode: 16, StateName: "running"}
	switch in.Lifecycle {
	case "Pending":
		e.StateCode, e.StateName, e.PrivateIPAddress = 0, "pending", ""
	case "Terminating", "Terminating:Proceed":
		e.StateCode, e.StateName = 32, "shutting-down"
	}
	// Terminating:Wait: a lifecycle hook holds the instance, still running.
	keys := make([]string, 0, len(in.Tags))
	for k := range in.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e.Tags = append(e.Tags, ec2Tag{k, in.Tags[k]})
	}
	return e
}

func (d *Double) serveAutoScaling(w http.ResponseWriter, r *http.Request) {
	f, action, ok := d.queryAction(w, r, "autoscaling", "2011-01-01", false)
	if !ok {
		return
	}
	switch action {
	case "DescribeAutoScalingGroups":
		if k, ok := known(f, "AutoScalingGroupNames.member.", "MaxRecords", "NextToken"); !ok {
			queryError(w, "ValidationError", "Unknown parameter "+k, http.StatusBadRequest)
			return
		}
		names := members(f, "AutoScalingGroupNames.member")
		type asInstance struct {
			ID        string `xml:"InstanceId"`
			AZ        string `xml:"AvailabilityZone"`
			Lifecycle string `xml:"LifecycleState"`
			Health    string `xml:"HealthStatus"`
			Protected bool   `xml:"ProtectedFromScaleIn"`
		}
		type group struct {
			Name      string       `xml:"AutoScalingGroupName"`
			Min       int          `xml:"MinSize"`
			Max       int          `xml:"MaxSize"`
			Desired   int          `xml:"DesiredCapacity"`
			AZs       []string     `xml:"AvailabilityZones>member"`
			Instances []asInstance `xml:"Instances>member"`
		}
		var out []group
		d.mu.Lock()
		all := names
		if len(all) == 0 {
			for n := range d.groups {
				all = append(all, n)
			}
			sort.Strings(all)
		}
		for _, n := range all {
			g := d.groups[n]
			if g == nil {
				continue // AWS lists only the groups that exist
			}
			og := group{Name: g.Name, Min: g.Min, Max: g.Max, Desired: g.Desired, AZs: g.AZs}
			for _, in := range d.members(n) {
				og.Instances = append(og.Instances, asInstance{in.ID, in.AZ, in.Lifecycle, health(in.Health), false})
			}
			out = append(out, og)
		}
		d.mu.Unlock()
		writeXML(w, struct {
			XMLName xml.Name `xml:"DescribeAutoScalingGroupsResponse"`
			NS      string   `xml:"xmlns,attr"`
			Groups  []group  `xml:"DescribeAutoScalingGroupsResult>AutoScalingGroups>member"`
			ReqID   string   `xml:"ResponseMetadata>RequestId"`
		}{NS: asNS, Groups: out, ReqID: "req-double"})
	case "SetDesiredCapacity":
		if k, ok := known(f, "AutoScalingGroupName", "DesiredCapacity", "HonorCooldown"); !ok {
			queryError(w, "ValidationError", "Unknown parameter "+k, http.StatusBadRequest)
			return
		}
		n, err := strconv.Atoi(f.Get("DesiredCapacity"))
		if err != nil || n < 0 {
			queryError(w, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'desiredCapacity' failed to satisfy constraint", f.Get("DesiredCapacity")), http.StatusBadRequest)
			return
		}
		d.mu.Lock()
		g := d.groups[f.Get("AutoScalingGroupName")]
		switch {
		case g == nil:
			d.mu.Unlock()
			queryError(w, "ValidationError", "AutoScalingGroup name not found - "+f.Get("AutoScalingGroupName"), http.StatusBadRequest)
			return
		case n > g.Max:
			d.mu.Unlock()
			queryError(w, "ValidationError", fmt.Sprintf("New SetDesiredCapacity value %d is above max value %d for the AutoScalingGroup.", n, g.Max), http.StatusBadRequest)
			return
		case n < g.Min:
			d.mu.Unlock()
			queryError(w, "ValidationError", fmt.Sprintf("New SetDesiredCapacity value %d is below min value %d for the AutoScalingGroup.", n, g.Min), http.StatusBadRequest)
			return
		}
		g.Desired = n
		d.reconcile(g)
		d.mu.Unlock()
		writeXML(w, struct {
			XMLName xml.Name `xml:"SetDesiredCapacityResponse"`
			NS      string   `xml:"xmlns,attr"`
			ReqID   string   `xml:"ResponseMetadata>RequestId"`
		}{NS: asNS, ReqID: "req-double"})
	default:
		queryError(w, "InvalidAction", fmt.Sprintf("Could not find operation %s for version 2011-01-01", action), http.StatusBadRequest)
	}
}
