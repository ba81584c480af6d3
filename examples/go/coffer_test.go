// A Coffer for a Go test suite, with aws-sdk-go-v2.
//
// TestMain starts `coffer serve --in-memory` (the binary named by $COFFER_BIN, or `coffer` on
// PATH) before the tests, reads the one JSON line `--print-env json` prints once it is ready,
// and closes the server's stdin after them: the server stops at end of file, and also if this
// process dies first. Run: go mod tidy && go test ./...
package coffer_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

const bucket = "fixtures"

// The server's ready line: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, ...
var env map[string]string

func TestMain(m *testing.M) {
	os.Exit(runWithCoffer(m))
}

func runWithCoffer(m *testing.M) int {
	bin := os.Getenv("COFFER_BIN")
	if bin == "" {
		bin = "coffer"
	}
	coffer := exec.Command(bin, "serve", "--in-memory", "--listen", "127.0.0.1:0",
		"--bucket", bucket, "--print-env", "json")
	coffer.Stderr = os.Stderr
	// A pipe on stdin: closing it (or this process dying) stops the server.
	stdin, err := coffer.StdinPipe()
	if err != nil {
		panic(err)
	}
	stdout, err := coffer.StdoutPipe()
	if err != nil {
		panic(err)
	}
	if err := coffer.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot start coffer:", err)
		return 1
	}
	defer func() {
		stdin.Close()
		coffer.Wait() // it removes its temporary directory before exiting
	}()
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		fmt.Fprintln(os.Stderr, "coffer exited before it was ready:", err)
		return 1
	}
	if err := json.Unmarshal(line, &env); err != nil {
		fmt.Fprintf(os.Stderr, "coffer's ready line is not JSON: %v: %q\n", err, line)
		return 1
	}
	return m.Run()
}

// A client for the server with the given secret; path-style, since the endpoint is an IP.
func newClient(t *testing.T, secret string) *s3.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(env["AWS_REGION"]),
		config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(env["AWS_ACCESS_KEY_ID"], secret, "")))
	if err != nil {
		t.Fatal(err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		// Newer SDK releases also take o.BaseEndpoint = aws.String(...).
		o.EndpointResolver = s3.EndpointResolverFromURL(env["AWS_ENDPOINT_URL"])
		o.UsePathStyle = true
	})
}

func TestFixtureBucketRoundTripsABody(t *testing.T) {
	ctx := context.Background()
	s3c := newClient(t, env["AWS_SECRET_ACCESS_KEY"])
	_, err := s3c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("scan.pdf"),
		Body: bytes.NewReader([]byte("%PDF-1.7")),
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s3c.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("scan.pdf"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	body, err := io.ReadAll(got.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != "%PDF-1.7" {
		t.Fatalf("got %q", body)
	}
}

func TestWrongSecretIsRefusedAsAWSRefusesIt(t *testing.T) {
	forged := newClient(t, "not-the-secret-0000")
	_, err := forged.ListObjectsV2(context.Background(),
		&s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "SignatureDoesNotMatch" {
		t.Fatalf("want SignatureDoesNotMatch, got %v", err)
	}
}

func TestPresignedGetWorksUntilItExpires(t *testing.T) {
	ctx := context.Background()
	s3c := newClient(t, env["AWS_SECRET_ACCESS_KEY"])
	_, err := s3c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("shared.txt"),
		Body: strings.NewReader("for a while"),
	})
	if err != nil {
		t.Fatal(err)
	}
	presign := func(expires time.Duration) string {
		req, err := s3.NewPresignClient(s3c).PresignGetObject(ctx,
			&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("shared.txt")},
			s3.WithPresignExpires(expires))
		if err != nil {
			t.Fatal(err)
		}
		return req.URL
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	if status, body := get(presign(15 * time.Minute)); status != 200 || body != "for a while" {
		t.Fatalf("a valid presigned GET: %d %q", status, body)
	}
	short := presign(1 * time.Second)
	time.Sleep(2100 * time.Millisecond)
	if status, body := get(short); status != 403 || !strings.Contains(body, "AccessDenied") {
		t.Fatalf("an expired presigned GET: want 403 AccessDenied, got %d %q", status, body)
	}
}
