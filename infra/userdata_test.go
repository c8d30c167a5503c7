package infra

import (
	"strings"
	"testing"
)

func TestGatewayPolicyWithoutS3(t *testing.T) {
	doc := GatewayPolicy(ARNs{"aws", "eu-west-1", "111122223333"}, "drawbridge-prod", "eipalloc-1", "arn:aws:dynamodb:eu-west-1:111122223333:table/t", "", "")
	j := doc.JSON()
	if strings.Contains(j, "s3:GetObject") {
		t.Error("release URL delivery needs no S3 permission")
	}
	if !strings.Contains(j, `"arn:aws:ec2:eu-west-1:111122223333:elastic-ip/eipalloc-1"`) || !strings.Contains(j, `"aws:ResourceTag/drawbridge:fleet":"drawbridge-prod"`) {
		t.Errorf("policy: %s", j)
	}
}
