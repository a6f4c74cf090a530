// The AWS SDK for Go v2 with the container credential provider (config.LoadDefaultConfig reads
// AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE): list a bucket,
// wait past the credentials' expiry, list again. Prints {"keys": [...], "results": [...]} as JSON.
// Built by test/e2e/workload-identity.test.ts (and .ci/run) from this module's go.mod.
//
// argv[1]: bucket; argv[2] "once": one call, no wait. HTTPS_PROXY and AWS_CA_BUNDLE as for ../main.go; the credential endpoint is on
// loopback, which Go's http.ProxyFromEnvironment never proxies.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

type result struct {
	OK      bool     `json:"ok"`
	Keys    []string `json:"keys,omitempty"`
	Code    string   `json:"code,omitempty"`
	Message string   `json:"message,omitempty"`
}

func main() {
	bucket := os.Args[1]
	once := len(os.Args) > 2 && os.Args[2] == "once"
	attempts := 2
	if once {
		attempts = 1
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryMaxAttempts(1), config.WithRegion("us-east-1"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	client := s3.NewFromConfig(cfg)
	var keys []string
	var results []result
	for attempt := 0; attempt < attempts; attempt++ {
		out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
		if err != nil {
			r := result{OK: false, Message: err.Error()}
			var apiErr smithy.APIError
			if errors.As(err, &apiErr) {
				r.Code = apiErr.ErrorCode()
			}
			results = append(results, r)
		} else {
			r := result{OK: true}
			for _, o := range out.Contents {
				r.Keys = append(r.Keys, *o.Key)
			}
			results = append(results, r)
		}
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		keys = append(keys, creds.AccessKeyID)
		if attempt == 0 && !once {
			time.Sleep(time.Until(creds.Expires) + 1500*time.Millisecond)
			fmt.Fprintln(os.Stderr, "waited")
		}
	}
	text, _ := json.Marshal(map[string]any{"keys": keys, "results": results})
	fmt.Println(string(text))
}
