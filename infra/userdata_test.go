package infra

import (
	"strings"
	"testing"
)

func TestRenderGatewayUserDataRejects(t *testing.T) {
	ok := GatewayUserData{Binary: Binary{URL: "https://example.com/b"}, GatewayConfig: "listen: \":80\"\n"}
	if _, err := RenderGatewayUserData(ok); err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.GatewayConfig = "listen: \":80\"\nDRAWBRIDGE_GATEWAY_CONFIG\nrm -rf /\n"
	if _, err := RenderGatewayUserData(bad); err == nil || !strings.Contains(err.Error(), "heredoc") {
		t.Fatalf("a config line ending the heredoc must be refused, got %v", err)
	}
	bad = ok
	bad.Binary = Binary{}
	if _, err := RenderGatewayUserData(bad); err == nil {
		t.Fatal("no binary source must be refused")
	}
}

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
