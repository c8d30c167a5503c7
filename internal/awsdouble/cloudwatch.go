package awsdouble

import (
	"encoding/xml"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

const cwNS = "http://monitoring.amazonaws.com/doc/2010-08-01/"

type datapoint struct {
	t time.Time
	v float64
}

// metricKey names a metric by namespace, name and its exact dimension
// set: CloudWatch matches dimensions exactly, not as a subset.
func metricKey(namespace, name string, dims map[string]string) string {
	keys := make([]string, 0, len(dims))
	for k, v := range dims {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	return namespace + "\x00" + name + "\x00" + strings.Join(keys, "\x00")
}

// PutMetric records one raw datapoint of a metric, as PutMetricData would.
func (d *Double) PutMetric(namespace, name string, dims map[string]string, t time.Time, value float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := metricKey(namespace, name, dims)
	d.metrics[k] = append(d.metrics[k], datapoint{t.UTC(), value})
}

var cwParamRe = regexp.MustCompile(`^(StartTime|EndTime|NextToken|ScanBy|MaxDatapoints|LabelOptions\.Timezone|MetricDataQueries\.member\.\d+\.(Id|Label|ReturnData|Period|AccountId|Expression|MetricStat\.(Period|Stat|Unit|Metric\.(Namespace|MetricName|Dimensions\.member\.\d+\.(Name|Value)))))$`)

var (
	cwIDRe   = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)
	cwPctlRe = regexp.MustCompile(`^p(\d{1,2}(\.\d+)?|100)$`)
)

// serveCloudWatch answers the query protocol (what `metric.protocol: query`
// speaks): GetMetricData over the metric store. A Smithy RPC v2 CBOR
// request (the SDK's default since cloudwatch v1.53) gets an error in its
// own protocol naming the one it should speak, as moto and older
// LocalStack have no CBOR either.
func (d *Double) serveCloudWatch(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Smithy-Protocol") != "" || strings.HasPrefix(r.Header.Get("Content-Type"), "application/cbor") {
		d.count("monitoring:cbor")
		w.Header().Set("Content-Type", "application/cbor")
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(cbor.Encode(cbor.Map{
			"__type":  cbor.String("UnsupportedProtocol"),
			"message": cbor.String("the AWS double's CloudWatch speaks the query protocol (awsQuery) only, not Smithy RPC v2 CBOR (" + r.Header.Get("Smithy-Protocol") + "): set metric.protocol: query"),
		}))
		return
	}
	f, action, ok := d.queryAction(w, r, "monitoring", "2010-08-01", false)
	if !ok {
		return
	}
	switch action {
	case "GetMetricData":
		d.getMetricData(w, f)
	default:
		queryError(w, "InvalidAction", fmt.Sprintf("Could not find operation %s for version 2010-08-01", action), http.StatusBadRequest)
	}
}

type cwQuery struct {
	id, label, stat string
	key             string
	period          time.Duration
	returnData      bool
}

type cwResult struct {
	ID         string   `xml:"Id"`
	Label      string   `xml:"Label"`
	StatusCode string   `xml:"StatusCode"`
	Timestamps []string `xml:"Timestamps>member"`
	Values     []string `xml:"Values>member"`
}

func (d *Double) getMetricData(w http.ResponseWriter, f url.Values) {
	invalid := func(code, format string, a ...any) {
		queryError(w, code, fmt.Sprintf(format, a...), http.StatusBadRequest)
	}
	for k := range f {
		if k != "Action" && k != "Version" && !cwParamRe.MatchString(k) {
			invalid("InvalidParameterValue", "Unknown parameter %s", k)
			return
		}
	}
	start, err1 := time.Parse(time.RFC3339, f.Get("StartTime"))
	end, err2 := time.Parse(time.RFC3339, f.Get("EndTime"))
	switch {
	case f.Get("StartTime") == "" || f.Get("EndTime") == "":
		invalid("MissingParameter", "The parameters StartTime and EndTime are required.")
		return
	case err1 != nil || err2 != nil:
		invalid("InvalidParameterValue", "StartTime and EndTime must be ISO 8601 timestamps")
		return
	case !start.Before(end):
		invalid("InvalidParameterValue", "The parameter StartTime must be less than the parameter EndTime.")
		return
	}
	scan := f.Get("ScanBy")
	if scan != "" && scan != "TimestampDescending" && scan != "TimestampAscending" {
		invalid("InvalidParameterValue", "ScanBy %q: want TimestampDescending or TimestampAscending", scan)
		return
	}
	var qs []cwQuery
	for i := 1; ; i++ {
		p := fmt.Sprintf("MetricDataQueries.member.%d.", i)
		if _, ok := f[p+"Id"]; !ok {
			break
		}
		q := cwQuery{id: f.Get(p + "Id"), label: f.Get(p + "Label"), stat: f.Get(p + "MetricStat.Stat"), returnData: f.Get(p+"ReturnData") != "false"}
		if !cwIDRe.MatchString(q.id) {
			invalid("ValidationError", "The value %s for parameter MetricDataQueries.member.%d.Id is not valid: it must start with a lowercase letter", q.id, i)
			return
		}
		if f.Get(p+"Expression") != "" {
			invalid("ValidationError", "MetricDataQueries.member.%d: metric math expressions are not modelled by the double", i)
			return
		}
		ns, name := f.Get(p+"MetricStat.Metric.Namespace"), f.Get(p+"MetricStat.Metric.MetricName")
		if ns == "" || name == "" {
			invalid("MissingParameter", "MetricDataQueries.member.%d: a query needs a MetricStat with Namespace and MetricName, or an Expression", i)
			return
		}
		dims := map[string]string{}
		for j := 1; ; j++ {
			dp := fmt.Sprintf("%sMetricStat.Metric.Dimensions.member.%d.", p, j)
			n, ok := f[dp+"Name"]
			if !ok {
				break
			}
			v := f.Get(dp + "Value")
			if n[0] == "" || v == "" {
				invalid("InvalidParameterValue", "MetricDataQueries.member.%d: dimension %d needs a Name and a Value", i, j)
				return
			}
			dims[n[0]] = v
		}
		q.key = metricKey(ns, name, dims)
		secs, err := strconv.Atoi(f.Get(p + "MetricStat.Period"))
		if err != nil || secs <= 0 || (secs%60 != 0 && secs != 1 && secs != 5 && secs != 10 && secs != 30) {
			invalid("InvalidParameterValue", "MetricDataQueries.member.%d: The parameter Period must be 1, 5, 10, 30 or a multiple of 60.", i)
			return
		}
		q.period = time.Duration(secs) * time.Second
		if q.stat != "Sum" && q.stat != "Average" && q.stat != "Minimum" && q.stat != "Maximum" && q.stat != "SampleCount" && !cwPctlRe.MatchString(q.stat) {
			invalid("InvalidParameterValue", "MetricDataQueries.member.%d: unsupported Stat %q", i, q.stat)
			return
		}
		if q.label == "" {
			q.label = name
		}
		qs = append(qs, q)
	}
	if len(qs) == 0 {
		invalid("MissingParameter", "The parameter MetricDataQueries is required.")
		return
	}

	// Aggregate: buckets aligned on the period, from StartTime rounded down.
	type point struct {
		q int
		t time.Time
		v float64
	}
	var all []point
	d.mu.Lock()
	for qi, q := range qs {
		if !q.returnData {
			continue
		}
		buckets := map[time.Time][]float64{}
		from := start.Truncate(q.period)
		for _, dp := range d.metrics[q.key] {
			if dp.t.Before(from) || !dp.t.Before(end) {
				continue
			}
			b := dp.t.Truncate(q.period)
			buckets[b] = append(buckets[b], dp.v)
		}
		for t, vs := range buckets {
			all = append(all, point{qi, t, aggregate(q.stat, vs)})
		}
	}
	size := d.CloudWatchPageSize
	d.mu.Unlock()
	sort.Slice(all, func(i, j int) bool {
		if all[i].q != all[j].q {
			return all[i].q < all[j].q
		}
		if scan == "TimestampAscending" {
			return all[i].t.Before(all[j].t)
		}
		return all[i].t.After(all[j].t)
	})
	if size <= 0 {
		size = 100800
	}
	if m, err := strconv.Atoi(f.Get("MaxDatapoints")); err == nil && m > 0 && m < size {
		size = m
	}
	from := 0
	if tok := f.Get("NextToken"); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "double-"))
		if !strings.HasPrefix(tok, "double-") || err != nil || n < 0 || n > len(all) {
			invalid("InvalidNextToken", "The NextToken %q is not valid.", tok)
			return
		}
		from = n
	}
	to, next := min(from+size, len(all)), ""
	if to < len(all) {
		next = "double-" + strconv.Itoa(to)
	}
	var results []cwResult
	for qi, q := range qs {
		if !q.returnData {
			continue
		}
		res := cwResult{ID: q.id, Label: q.label, StatusCode: "Complete"}
		if next != "" {
			res.StatusCode = "PartialData"
		}
		for _, p := range all[from:to] {
			if p.q == qi {
				res.Timestamps = append(res.Timestamps, p.t.UTC().Format(time.RFC3339))
				res.Values = append(res.Values, strconv.FormatFloat(p.v, 'g', -1, 64))
			}
		}
		results = append(results, res)
	}
	writeXML(w, struct {
		XMLName   xml.Name   `xml:"GetMetricDataResponse"`
		NS        string     `xml:"xmlns,attr"`
		Results   []cwResult `xml:"GetMetricDataResult>MetricDataResults>member"`
		NextToken string     `xml:"GetMetricDataResult>NextToken,omitempty"`
		ReqID     string     `xml:"ResponseMetadata>RequestId"`
	}{NS: cwNS, Results: results, NextToken: next, ReqID: "req-double"})
}

// aggregate computes a CloudWatch statistic over one period's raw values
// (percentiles by nearest rank).
func aggregate(stat string, vs []float64) float64 {
	sum, lo, hi := 0.0, math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		sum += v
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	switch stat {
	case "Sum":
		return sum
	case "Average":
		return sum / float64(len(vs))
	case "Minimum":
		return lo
	case "Maximum":
		return hi
	case "SampleCount":
		return float64(len(vs))
	}
	p, _ := strconv.ParseFloat(stat[1:], 64)
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[max(rank-1, 0)]
}
