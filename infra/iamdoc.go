package infra

import "encoding/json"

// PolicyDocument is an IAM policy document. It is built as a Go value and
// marshalled, never templated as text, so statements cannot be malformed.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one IAM statement. Resource "*" is used only for actions that
// support no resource-level permissions (Describe*, CloudWatch reads); the
// policy pack rejects it anywhere else.
type Statement struct {
	Sid       string                       `json:"Sid,omitempty"`
	Effect    string                       `json:"Effect"`
	Principal map[string]any               `json:"Principal,omitempty"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource,omitempty"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// JSON renders the document.
func (d PolicyDocument) JSON() string {
	if d.Version == "" {
		d.Version = "2012-10-17"
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(err) // only strings and maps: cannot fail
	}
	return string(b)
}

// assumeRoleEC2 lets EC2 instances assume a role.
func assumeRoleEC2() string {
	return PolicyDocument{Statement: []Statement{{
		Effect:    "Allow",
		Principal: map[string]any{"Service": "ec2.amazonaws.com"},
		Action:    []string{"sts:AssumeRole"},
	}}}.JSON()
}
