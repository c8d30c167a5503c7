package awsdouble

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// item is one DynamoDB item: attribute name -> typed value. Only the S and
// N types are modelled; others are refused with a ValidationException.
type item map[string]attr

type attr struct{ T, V string }

func (a attr) MarshalJSON() ([]byte, error) { return json.Marshal(map[string]string{a.T: a.V}) }

func (a *attr) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if len(m) != 1 {
		return fmt.Errorf("an attribute value must have exactly one type")
	}
	for t, v := range m {
		s, ok := v.(string)
		if (t != "S" && t != "N") || !ok {
			return fmt.Errorf("attribute type %s not supported by the double", t)
		}
		if t == "N" {
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				return fmt.Errorf("the parameter cannot be converted to a numeric value: %s", s)
			}
		}
		a.T, a.V = t, s
	}
	return nil
}

type ddbRequest struct {
	TableName                 string
	Key                       item
	Item                      item
	UpdateExpression          string
	ConditionExpression       string
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues map[string]attr
	ReturnValues              string
	ConsistentRead            bool
}

func ddbError(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + typ, "message": msg})
}

func (d *Double) serveDynamoDB(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	if !ok || r.Header.Get("Content-Type") != "application/x-amz-json-1.0" {
		ddbError(w, "UnknownOperationException", "missing or unknown X-Amz-Target / content type")
		return
	}
	// The SDK checks X-Amz-Crc32 against the body: buffer to compute it.
	buf := &crcWriter{ResponseWriter: w}
	defer buf.flush()
	w = buf
	if code, fail := d.call("dynamodb:"+op, nil); fail {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(failStatus(code))
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + code, "message": "injected by the double"})
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req ddbRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		ddbError(w, "SerializationException", err.Error())
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	table, ok := d.tables[req.TableName]
	if !ok {
		ddbError(w, "ResourceNotFoundException", "Requested resource not found: Table: "+req.TableName+" not found")
		return
	}
	pk, ok := req.Key["pk"]
	if op != "PutItem" && (!ok || len(req.Key) != 1 || pk.T != "S") {
		ddbError(w, "ValidationException", "The provided key element does not match the schema")
		return
	}
	ev := evaluator{names: req.ExpressionAttributeNames, values: req.ExpressionAttributeValues}
	switch op {
	case "GetItem":
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		out := map[string]any{}
		if it, ok := table[pk.V]; ok {
			out["Item"] = it
		}
		_ = json.NewEncoder(w).Encode(out)
	case "UpdateItem":
		cur, exists := table[pk.V]
		next := item{}
		for k, v := range cur {
			next[k] = v
		}
		if !exists {
			next["pk"] = pk
		}
		if req.ConditionExpression != "" {
			ok, err := ev.condition(req.ConditionExpression, cur, exists)
			if err != nil {
				ddbError(w, "ValidationException", "Invalid ConditionExpression: "+err.Error())
				return
			}
			if !ok {
				ddbError(w, "ConditionalCheckFailedException", "The conditional request failed")
				return
			}
		}
		if err := ev.update(req.UpdateExpression, cur, next); err != nil {
			ddbError(w, "ValidationException", "Invalid UpdateExpression: "+err.Error())
			return
		}
		table[pk.V] = next
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		out := map[string]any{}
		switch req.ReturnValues {
		case "", "NONE":
		case "ALL_NEW":
			out["Attributes"] = next
		default:
			ddbError(w, "ValidationException", "ReturnValues "+req.ReturnValues+" not supported by the double")
			return
		}
		_ = json.NewEncoder(w).Encode(out)
	default:
		ddbError(w, "UnknownOperationException", "operation "+op+" is not modelled by the double")
	}
}

// evaluator implements the subset of DynamoDB expressions the leases use:
// conditions of comparisons and attribute_(not_)exists joined by AND/OR,
// and SET clauses of values, if_not_exists and "+".
type evaluator struct {
	names  map[string]string
	values map[string]attr
}

func (e evaluator) name(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "#") {
		n, ok := e.names[s]
		if !ok {
			return "", fmt.Errorf("An expression attribute name used in the document path is not defined; attribute name: %s", s)
		}
		return n, nil
	}
	if s == "" || strings.ContainsAny(s, " :()") {
		return "", fmt.Errorf("syntax error near %q", s)
	}
	return s, nil
}

func (e evaluator) operand(s string, it item) (attr, bool, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, ":") {
		v, ok := e.values[s]
		if !ok {
			return attr{}, false, fmt.Errorf("An expression attribute value used in expression is not defined; attribute value: %s", s)
		}
		return v, true, nil
	}
	if inner, ok := strings.CutPrefix(s, "if_not_exists("); ok && strings.HasSuffix(inner, ")") {
		path, def, ok := strings.Cut(strings.TrimSuffix(inner, ")"), ",")
		if !ok {
			return attr{}, false, fmt.Errorf("if_not_exists takes two operands")
		}
		v, present, err := e.operand(path, it)
		if err != nil || present {
			return v, present, err
		}
		return e.operand(def, it)
	}
	n, err := e.name(s)
	if err != nil {
		return attr{}, false, err
	}
	v, ok := it[n]
	return v, ok, nil
}

func (e evaluator) condition(expr string, it item, exists bool) (bool, error) {
	for _, or := range strings.Split(expr, " OR ") {
		all := true
		for _, term := range strings.Split(or, " AND ") {
			ok, err := e.term(strings.TrimSpace(term), it)
			if err != nil {
				return false, err
			}
			all = all && ok
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}

func (e evaluator) term(t string, it item) (bool, error) {
	for _, fn := range []string{"attribute_not_exists(", "attribute_exists("} {
		if inner, ok := strings.CutPrefix(t, fn); ok && strings.HasSuffix(inner, ")") {
			n, err := e.name(strings.TrimSuffix(inner, ")"))
			if err != nil {
				return false, err
			}
			_, present := it[n]
			return present == (fn == "attribute_exists("), nil
		}
	}
	for _, op := range []string{"<=", ">=", "<>", "=", "<", ">"} {
		l, r, ok := strings.Cut(t, " "+op+" ")
		if !ok {
			continue
		}
		a, aok, err := e.operand(l, it)
		if err != nil {
			return false, err
		}
		b, bok, err := e.operand(r, it)
		if err != nil {
			return false, err
		}
		if !aok || !bok {
			return false, nil // a missing attribute compares false
		}
		if a.T != b.T {
			return op == "<>", nil
		}
		c := strings.Compare(a.V, b.V)
		if a.T == "N" {
			x, _ := strconv.ParseFloat(a.V, 64)
			y, _ := strconv.ParseFloat(b.V, 64)
			c = map[bool]int{true: -1, false: 0}[x < y] + map[bool]int{true: 1, false: 0}[x > y]
		}
		switch op {
		case "=":
			return c == 0, nil
		case "<>":
			return c != 0, nil
		case "<":
			return c < 0, nil
		case "<=":
			return c <= 0, nil
		case ">":
			return c > 0, nil
		default:
			return c >= 0, nil
		}
	}
	return false, fmt.Errorf("unsupported condition %q", t)
}

func (e evaluator) update(expr string, cur, next item) error {
	rest, ok := strings.CutPrefix(strings.TrimSpace(expr), "SET ")
	if !ok {
		return fmt.Errorf("only SET is modelled, got %q", expr)
	}
	// Split on commas outside parentheses (if_not_exists has one inside).
	var clauses []string
	depth, start := 0, 0
	for i, c := range rest {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				clauses = append(clauses, rest[start:i])
				start = i + 1
			}
		}
	}
	clauses = append(clauses, rest[start:])
	for _, cl := range clauses {
		lhs, rhs, ok := strings.Cut(cl, "=")
		if !ok {
			return fmt.Errorf("syntax error in %q", cl)
		}
		n, err := e.name(lhs)
		if err != nil {
			return err
		}
		var v attr
		if a, b, plus := strings.Cut(rhs, " + "); plus {
			x, xok, err := e.operand(a, cur)
			if err != nil {
				return err
			}
			y, yok, err := e.operand(b, cur)
			if err != nil {
				return err
			}
			if !xok || !yok || x.T != "N" || y.T != "N" {
				return fmt.Errorf("An operand in the update expression has an incorrect data type")
			}
			xi, _ := strconv.ParseInt(x.V, 10, 64)
			yi, _ := strconv.ParseInt(y.V, 10, 64)
			v = attr{"N", strconv.FormatInt(xi+yi, 10)}
		} else {
			var present bool
			if v, present, err = e.operand(rhs, cur); err != nil {
				return err
			} else if !present {
				return fmt.Errorf("The provided expression refers to an attribute that does not exist in the item")
			}
		}
		next[n] = v
	}
	return nil
}

type crcWriter struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (c *crcWriter) WriteHeader(s int)           { c.status = s }
func (c *crcWriter) Write(b []byte) (int, error) { c.body = append(c.body, b...); return len(b), nil }
func (c *crcWriter) flush() {
	c.ResponseWriter.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(c.body)), 10))
	if c.status != 0 {
		c.ResponseWriter.WriteHeader(c.status)
	}
	_, _ = c.ResponseWriter.Write(c.body)
}
